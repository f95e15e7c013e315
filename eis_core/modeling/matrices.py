"""Train and test matrices: one Parquet file per matrix *definition*, built from the feature and label marts.

A matrix is defined by a :class:`MatrixSpec` (as-of dates, label, feature columns, cohort rules, protected
columns and the data version) and named by the content hash of that definition::

    matrix_id = sha256(canonical JSON of the spec)[:16]

``data_version`` is, for every raw table, the id of the latest load that *changed* it (``raw.load_log``
rows with status ``loaded`` or ``loaded_with_quarantine``; an ``unchanged`` reload of the same file
does not change the data, so it does not change the version).  A new load therefore means new matrix
ids, and a matrix whose id exists already is reused, not rebuilt.

Files: ``<project_path>/matrices/<matrix_id>.parquet`` and ``<matrix_id>.json`` (metadata: the spec,
rows, positives, columns, dtypes, timings).  Columns, in order:

* ``officer_id`` (string), ``as_of_date`` (date32);
* the feature columns: ``float32`` unless a column's largest absolute value in the matrix exceeds
  2**24 (16,777,216), in which case ``float64`` (integers below 2**24 are exact in float32, any other
  value is rounded with a relative error below 6e-8; scikit-learn's tree ensembles work in float32
  anyway);
* ``label`` (int8, 0/1: ``labels.officer_labels.label`` of the spec's label);
* ``_protected_race``, ``_protected_sex`` (strings from ``features.officer_protected``): NOT features;
  :func:`load_matrix` returns them in ``index`` (bias audits, the simple logistic baseline).

Legacy threshold rules are ordinary feature columns of the mart (``leg_<rule>_cases`` and
``leg_<rule>_flag``).

Reading is bounded in memory: the rows come from PostgreSQL through ``COPY (SELECT …) TO STDOUT`` in
CSV, parsed by pyarrow's streaming CSV reader block by block and written to Parquet one row group at a
time, so a matrix never needs to fit in memory as Python objects (only its row groups do).
"""

from eis_core.modeling.matrix_io import (
    build_matrix,
    build_split_matrices,
    list_matrices,
    load_matrix,
    matrix_paths,
    project_dir,
    read_meta,
    record_matrix_meta,
)
from eis_core.modeling.matrix_spec import (
    DATA_CHANGING,
    FLOAT32_EXACT_INT,
    KEY_COLUMNS,
    PROTECTED_COLUMNS,
    PROTECTED_PREFIX,
    ROW_GROUP_ROWS,
    MatrixError,
    MatrixSpec,
    canonical_json,
    data_version,
    dates_present,
    default_feature_columns,
    ensure_features,
    label_name_for,
    make_spec,
    mart_feature_columns,
    matrix_id,
)

#: the former private name (production scoring imports it)

__all__ = [
    "DATA_CHANGING",
    "FLOAT32_EXACT_INT",
    "KEY_COLUMNS",
    "PROTECTED_COLUMNS",
    "PROTECTED_PREFIX",
    "ROW_GROUP_ROWS",
    "MatrixError",
    "MatrixSpec",
    "build_matrix",
    "build_split_matrices",
    "canonical_json",
    "data_version",
    "dates_present",
    "default_feature_columns",
    "ensure_features",
    "label_name_for",
    "list_matrices",
    "load_matrix",
    "make_spec",
    "mart_feature_columns",
    "matrix_id",
    "matrix_paths",
    "project_dir",
    "read_meta",
    "record_matrix_meta",
]
