"""What store plugins share: the store manifest and entry files with their
checksums, an entry table that turns search hits into neighbours, top-k
ranking, hashed text features for keys without a model, and dense keys
computed apart from their store or saved as their non-zeros."""

from retrikt_core.errors import StoreFileError
from retrikt_core.storekit.entry_table import EntryTable, empty_neighbors, load_table
from retrikt_core.storekit.features import example_terms, hashed_features, tokenize
from retrikt_core.storekit.files import (
    ENTRIES,
    ENTRY_COLUMNS,
    MANIFEST,
    check_listed,
    check_matches,
    read_entries,
    read_manifest,
    sha256_file,
    write_entries,
    write_manifest,
)
from retrikt_core.storekit.keys import (
    NONZERO,
    checked_keys,
    key_to_text,
    keys_from_nonzero,
    keys_from_text,
    nonzero_keys,
)
from retrikt_core.storekit.ranking import inner_product_top_k, query_blocks, top_k

__all__ = [
    "ENTRIES",
    "ENTRY_COLUMNS",
    "MANIFEST",
    "NONZERO",
    "EntryTable",
    "StoreFileError",
    "check_listed",
    "checked_keys",
    "check_matches",
    "empty_neighbors",
    "example_terms",
    "hashed_features",
    "inner_product_top_k",
    "key_to_text",
    "keys_from_nonzero",
    "keys_from_text",
    "load_table",
    "nonzero_keys",
    "query_blocks",
    "read_entries",
    "read_manifest",
    "sha256_file",
    "tokenize",
    "top_k",
    "write_entries",
    "write_manifest",
]
