"""Data files: reading CSV, TSV, JSONL and Parquet files (plain, compressed or
a folder of them, with or without a header row) as tables, and turning rows
into examples. Used by the tasks, the corpus source and ``retrikt predict``."""

from retrikt_core.datafiles.examples import (
    DATA_DIR_ENV,
    column_of,
    file_fingerprint,
    read_rows,
    rows_to_examples,
    sample_eval,
    text_value,
)
from retrikt_core.datafiles.tables import (
    FORMATS,
    Table,
    TableFormat,
    data_files,
    file_format,
    read_table,
    read_text,
)

__all__ = [
    "DATA_DIR_ENV",
    "FORMATS",
    "Table",
    "TableFormat",
    "column_of",
    "data_files",
    "file_fingerprint",
    "file_format",
    "read_rows",
    "read_table",
    "read_text",
    "rows_to_examples",
    "sample_eval",
    "text_value",
]
