"""Admission by memory: the bytes of decoded images in flight stay within a budget.

Counting threads bounds how many requests run, not what they hold: eight 40 MP photos decoded at once need
a gigabyte. Each request reserves what its decode will hold before it decodes; one that does not fit waits
in a short, bounded line for others to finish, then gets 503 with Retry-After. A request larger than the
whole budget runs alone.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

from ..errors import QueueFull
from ..system.memory import cgroup_memory_max, resident_bytes
from ..vision.decode import decoded_size

# Peak bytes held while decoding, per byte of the decoded RGB image, by format (measured on 40 MP images:
# docs/performance.md, "Memory per decode"):
# libjpeg-turbo decodes straight into the array; Pillow holds its own copy and a transfer buffer beside it,
# and libwebp its decoder's buffers as well.
PEAK_PER_DECODED_BYTE = {"jpeg": 1.1, "webp": 7.5}
OTHER_FORMATS_PEAK = 4.75
SHARE_OF_FREE_MEMORY = 0.8  # of the cgroup's limit less what the process holds at start


def image_bytes(data: bytes, *, long_side: int | None = None) -> int:
    """What a request's image will hold at its peak: its body, and its decode (reduced to ``long_side`` for
    detection where a plain JPEG allows it; None: in full)."""
    width, height, fmt = decoded_size(data, long_side=long_side)
    return len(data) + int(width * height * 3 * PEAK_PER_DECODED_BYTE.get(fmt, OTHER_FORMATS_PEAK))


def budget_bytes(setting_mb: int, *, limit: int | None = None, resident: int | None = None,
                 total: int | None = None) -> int:
    """The budget: ``setting_mb`` when set; else a share of the cgroup's memory limit (``MemoryMax=``) less
    what the process holds now; without a limit, a share of half the machine's memory."""
    if setting_mb > 0:
        return setting_mb * 2**20
    limit = cgroup_memory_max() if limit is None else limit
    resident = resident_bytes() if resident is None else resident
    if limit is None:
        limit = (_memory_total() if total is None else total) // 2
    return max(64 * 2**20, int((limit - resident) * SHARE_OF_FREE_MEMORY))


def _memory_total() -> int:
    try:
        with open("/proc/meminfo") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError):
        return 4 * 2**30


class MemoryBudget:
    """``capacity`` bytes shared by the requests in flight; at most ``max_waiting`` wait, each ``wait_s``."""

    def __init__(self, capacity: int, *, max_waiting: int = 8, wait_s: float = 2.0):
        self.capacity = capacity
        self.max_waiting = max_waiting
        self.wait_s = wait_s
        self._cond = threading.Condition()
        self.in_use = 0
        self.peak = 0
        self.waiting = 0
        self.refused = 0

    @contextlib.contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        """Hold ``size`` bytes for the block; QueueFull (503, Retry-After) when they do not come in time."""
        size = max(0, int(size))
        self._acquire(size)
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= size
                self._cond.notify_all()

    def _acquire(self, size: int) -> None:
        with self._cond:
            if self._fits(size):
                self._take(size)
                return
            if self.waiting >= self.max_waiting:
                self.refused += 1
                raise QueueFull("the service is busy with large images; retry shortly", retry_after_s=2)
            self.waiting += 1
            deadline = time.monotonic() + self.wait_s
            try:
                while not self._fits(size):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self.refused += 1
                        raise QueueFull("the service is busy with large images; retry shortly", retry_after_s=2)
                    self._cond.wait(left)
            finally:
                self.waiting -= 1
            self._take(size)

    def _fits(self, size: int) -> bool:
        return self.in_use == 0 or self.in_use + size <= self.capacity

    def _take(self, size: int) -> None:
        self.in_use += size
        self.peak = max(self.peak, self.in_use)

    def status(self) -> dict:
        """For /health and /metrics: the budget, what is held, the line, and the requests refused."""
        with self._cond:
            return {"capacity_mb": round(self.capacity / 2**20, 1), "in_use_mb": round(self.in_use / 2**20, 1),
                    "peak_mb": round(self.peak / 2**20, 1), "waiting": self.waiting, "refused": self.refused}
