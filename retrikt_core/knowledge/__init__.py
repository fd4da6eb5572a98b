"""Gathered knowledge before it is labelled: how much to ask of each source,
text statistics, and the filters for degenerate text, duplicates and leakage
from the evaluation split."""

from retrikt_core.knowledge.filter import (
    FilterReport,
    NearDuplicateIndex,
    filter_knowledge,
    normalise,
    pair_key,
    shingles,
)
from retrikt_core.knowledge.requests import plan_requests
from retrikt_core.knowledge.textstats import (
    degenerate_reason,
    distinct_n,
    max_ngram_repeat,
    ngrams,
    words,
)

__all__ = [
    "FilterReport",
    "NearDuplicateIndex",
    "degenerate_reason",
    "distinct_n",
    "filter_knowledge",
    "max_ngram_repeat",
    "ngrams",
    "normalise",
    "pair_key",
    "plan_requests",
    "shingles",
    "words",
]
