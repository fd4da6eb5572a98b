"""The stable API for plugin authors: everything a plugin may import from
retrikt-core, in one place.

A plugin (the ones retrikt ships included) imports from ``retrikt_core.api``
and nothing deeper; ``tests/test_architecture.py`` keeps it so. Names here keep
their meaning across minor releases; anything else in ``retrikt_core`` may move.
Plugin tests may also use :mod:`retrikt_core.testing` (the contract suites).

- declaring components: :func:`hookimpl`, :func:`option`, the contracts
  (:class:`Task`, :class:`KnowledgeGenerator`, :class:`Teacher`,
  :class:`RLOptimizer`, :class:`KnowledgeStore`, :class:`Retriever`,
  :class:`Student`, :class:`RewardTerm`) and the records they exchange;
- errors: :class:`RetriktError` and its subclasses, each naming what is wrong;
- writing files: atomic writes, and :mod:`storekit`'s store files;
- helpers: progress bars, kNN interpolation, data-file reading, text statistics.
"""

from retrikt_core.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from retrikt_core.config import option
from retrikt_core.datafiles import (
    DATA_DIR_ENV,
    Table,
    TableFormat,
    column_of,
    file_fingerprint,
    read_rows,
    read_table,
    read_text,
    rows_to_examples,
    sample_eval,
    text_value,
)
from retrikt_core.devices import (
    DEVICE_HELP,
    DTYPE_HELP,
    check_device,
    placement,
    resolve_device,
    resolve_dtype,
)
from retrikt_core.errors import (
    ArtifactError,
    BundleError,
    ConfigError,
    InputError,
    OptionError,
    PipelineError,
    RetriktError,
    StoreFileError,
    TaskDataError,
    UnknownComponentError,
)
from retrikt_core.execution import Executor, ShardWork
from retrikt_core.interfaces import (
    Component,
    KnowledgeGenerator,
    KnowledgeStore,
    NoOptions,
    Policy,
    Retriever,
    RewardFn,
    RewardTerm,
    RLOptimizer,
    Rollout,
    Student,
    Task,
    Teacher,
)
from retrikt_core.interpolation import (
    choose_mixing,
    interpolate,
    knn_distribution,
    store_texts,
    tune_interpolation,
)
from retrikt_core.knowledge import degenerate_reason, distinct_n, max_ngram_repeat, ngrams, words
from retrikt_core.plugins.hookspecs import hookimpl
from retrikt_core.progress import track
from retrikt_core.records import Example, Knowledge, Neighbors, dump_jsonl, jsonl_lines
from retrikt_core.rewards import jaccard, sample_bigrams
from retrikt_core.storekit import (
    ENTRIES,
    MANIFEST,
    EntryTable,
    check_listed,
    check_matches,
    checked_keys,
    empty_neighbors,
    example_terms,
    hashed_features,
    inner_product_top_k,
    keys_from_nonzero,
    load_table,
    nonzero_keys,
    query_blocks,
    read_entries,
    read_manifest,
    sha256_file,
    tokenize,
    top_k,
    write_entries,
    write_manifest,
)

__all__ = [
    "DEVICE_HELP",
    "DTYPE_HELP",
    "check_device",
    "placement",
    "resolve_device",
    "resolve_dtype",
    "ArtifactError",
    "InputError",
    "DATA_DIR_ENV",
    "ENTRIES",
    "MANIFEST",
    "BundleError",
    "Component",
    "ConfigError",
    "EntryTable",
    "Executor",
    "Example",
    "Knowledge",
    "KnowledgeGenerator",
    "KnowledgeStore",
    "Neighbors",
    "NoOptions",
    "OptionError",
    "PipelineError",
    "Policy",
    "RLOptimizer",
    "RetriktError",
    "Retriever",
    "RewardFn",
    "RewardTerm",
    "Rollout",
    "ShardWork",
    "StoreFileError",
    "Student",
    "Table",
    "TableFormat",
    "Task",
    "TaskDataError",
    "Teacher",
    "UnknownComponentError",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "check_listed",
    "check_matches",
    "checked_keys",
    "choose_mixing",
    "column_of",
    "dump_jsonl",
    "jsonl_lines",
    "degenerate_reason",
    "distinct_n",
    "empty_neighbors",
    "example_terms",
    "file_fingerprint",
    "hashed_features",
    "hookimpl",
    "interpolate",
    "jaccard",
    "keys_from_nonzero",
    "knn_distribution",
    "load_table",
    "max_ngram_repeat",
    "ngrams",
    "nonzero_keys",
    "option",
    "read_entries",
    "read_manifest",
    "read_rows",
    "read_table",
    "read_text",
    "rows_to_examples",
    "text_value",
    "sample_bigrams",
    "sample_eval",
    "sha256_file",
    "store_texts",
    "tokenize",
    "inner_product_top_k",
    "query_blocks",
    "top_k",
    "track",
    "tune_interpolation",
    "words",
    "write_entries",
    "write_manifest",
]
