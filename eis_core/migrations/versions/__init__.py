"""The migration revisions, oldest first (0001 … ); alembic reads them by file, this marks the package."""
