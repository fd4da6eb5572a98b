"""Batched, timed prediction with a progress bar (the teacher and evaluate stages)."""

from __future__ import annotations

import time
from collections.abc import Callable

from retrikt_core.progress import track
from retrikt_core.records import Example


def timed_predict(
    predict: Callable[[list[Example]], list[list[float]]],
    examples: list[Example],
    batch_size: int,
    label: str,
):
    probs: list[list[float]] = []
    start = time.perf_counter()
    batches = range(0, len(examples), batch_size)
    for i in track(batches, f"evaluate: {label}", total=len(batches)):
        probs += predict(examples[i : i + batch_size])
    seconds = time.perf_counter() - start
    return probs, seconds
