"""Importers that turn a real department's or a public data set's own export into a contract drop."""
