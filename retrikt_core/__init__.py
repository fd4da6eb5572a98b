"""retrikt-core: contracts, plugin system, staged pipeline and CLI for
retrieval-based knowledge transfer (RetriKT).

Importing this package is cheap: no torch, faiss or numpy at import time.
"""

from retrikt_core.plugins.hookspecs import hookimpl
from retrikt_core.records import Example, Knowledge, Neighbors

__version__ = "0.1.0"

__all__ = ["Example", "Knowledge", "Neighbors", "hookimpl", "__version__"]
