"""retrikt-bm25: a sparse BM25 knowledge store.

Importing this module stays light: bm25s and rank-bm25 load when a store
first indexes, searches or loads.
"""

from retrikt_bm25.store import Bm25Store
from retrikt_core.api import hookimpl


@hookimpl
def register_stores(register):
    register(Bm25Store)
