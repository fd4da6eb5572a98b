"""Reading a run directory after (or while) it runs: predictions from its
student and store, a look into its stores, and its report."""

from retrikt_core.inspection.predict import (
    PAIR_SEPARATOR,
    Prediction,
    RunPredictor,
    explain,
    read_inputs,
)
from retrikt_core.inspection.stores import RunStores, StoreSummary

__all__ = [
    "PAIR_SEPARATOR",
    "Prediction",
    "RunPredictor",
    "RunStores",
    "StoreSummary",
    "explain",
    "read_inputs",
]
