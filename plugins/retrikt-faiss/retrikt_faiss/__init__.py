"""retrikt-faiss: a dense knowledge store over FAISS.

Importing this module stays light: faiss, torch and transformers load when a
store first builds, searches or loads an index, so ``retrikt plugins`` and
``--help`` stay fast.
"""

from retrikt_core.api import hookimpl
from retrikt_faiss.store import FaissStore


@hookimpl
def register_stores(register):
    register(FaissStore)
