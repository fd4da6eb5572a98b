"""Request and batch metrics in the Prometheus text format."""

from __future__ import annotations

import threading
from collections import Counter

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1

    def lines(self, name: str, labels: str = "") -> list[str]:
        sep = "," if labels else ""
        out = [
            f'{name}_bucket{{{labels}{sep}le="{bound}"}} {count}'
            for bound, count in zip(self.buckets, self.counts, strict=True)
        ]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.total}')
        suffix = f"{{{labels}}}" if labels else ""
        return out + [f"{name}_sum{suffix} {self.sum}", f"{name}_count{suffix} {self.total}"]


class Metrics:
    """Requests by path and status, request latency, and batch sizes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.latency = Histogram(LATENCY_BUCKETS)
        self.batch_sizes = Histogram(BATCH_BUCKETS)
        self.batch_seconds = Histogram(LATENCY_BUCKETS)
        self.in_flight = 0
        self.received_total = 0

    def received(self) -> None:
        with self.lock:
            self.received_total += 1
            self.in_flight += 1

    def totals(self) -> dict[str, int]:
        with self.lock:
            answered = sum(self.requests.values())
            return {"received": self.received_total, "answered": answered}

    def request(self, path: str, status: int, seconds: float) -> None:
        with self.lock:
            self.in_flight -= 1
            self.requests[(path, status)] += 1
            if path == "/predict":
                self.latency.observe(seconds)

    def batch(self, size: int, seconds: float) -> None:
        with self.lock:
            self.batch_sizes.observe(size)
            self.batch_seconds.observe(seconds)

    def render(self) -> str:
        with self.lock:
            lines = [
                "# HELP retrikt_requests_total HTTP requests by path and status.",
                "# TYPE retrikt_requests_total counter",
            ]
            for (path, status), n in sorted(self.requests.items()):
                lines.append(f'retrikt_requests_total{{path="{path}",status="{status}"}} {n}')
            lines += [
                "# HELP retrikt_predict_seconds Latency of /predict requests.",
                "# TYPE retrikt_predict_seconds histogram",
                *self.latency.lines("retrikt_predict_seconds"),
                "# HELP retrikt_batch_size Inputs per call to the bundle.",
                "# TYPE retrikt_batch_size histogram",
                *self.batch_sizes.lines("retrikt_batch_size"),
                "# HELP retrikt_batch_seconds Time of one call to the bundle.",
                "# TYPE retrikt_batch_seconds histogram",
                *self.batch_seconds.lines("retrikt_batch_seconds"),
                "# HELP retrikt_requests_in_flight Requests being answered.",
                "# TYPE retrikt_requests_in_flight gauge",
                f"retrikt_requests_in_flight {self.in_flight}",
            ]
        return "\n".join(lines) + "\n"
