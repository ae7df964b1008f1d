"""De-identified, encrypted research extracts (docs/deidentify.md).

Plain library functions: the caller passes the DuckDB connection, the KeyProvider, the output
directory and the clock; nothing here reads settings or global state.
"""

from deidentify.contents import DATA_CSV, DATA_PARQUET, MANIFEST, PACKAGE_SUFFIX
from deidentify.crossextract import CrossExtract, EarlierExtracts
from deidentify.extract import (
    DisclosureReport,
    ExtractResult,
    Protection,
    build_extract,
    package_table,
    plan_for_request,
)
from deidentify.keyfiles import (
    extract_data_key,
    key_file_text,
    read_key_file,
    write_key_file,
)
from deidentify.opening import (
    OpenedExtract,
    VerifiedExtract,
    open_extract,
    verify_extract,
)
from deidentify.scan import Finding, IdentifierFound, scan_table

__all__ = [
    "DATA_CSV",
    "DATA_PARQUET",
    "CrossExtract",
    "EarlierExtracts",
    "MANIFEST",
    "PACKAGE_SUFFIX",
    "DisclosureReport",
    "ExtractResult",
    "Finding",
    "IdentifierFound",
    "OpenedExtract",
    "Protection",
    "VerifiedExtract",
    "build_extract",
    "extract_data_key",
    "key_file_text",
    "open_extract",
    "package_table",
    "plan_for_request",
    "read_key_file",
    "scan_table",
    "verify_extract",
    "write_key_file",
]
