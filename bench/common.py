"""Timing and memory helpers shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from pathlib import Path


def timed(fn, n: int, warmup: int = 3) -> list[float]:
    """Milliseconds per call of ``fn``, ``n`` samples after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def pct(values: list[float], q: int) -> float:
    """The q-th percentile (1-99) of ``values``."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` in MB (NaN when /proc does not say)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")
