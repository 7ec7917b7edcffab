"""Waiting for a condition in tests: polled against a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(predicate: Callable[[], object], timeout_s: float = 30.0, interval_s: float = 0.01) -> bool:
    """Poll ``predicate`` every ``interval_s`` until it is true (True) or ``timeout_s`` has passed (False).
    The timeout only bounds a failing test: a loaded machine may need much longer than a quiet one."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
    return True
