"""The result cache: a photo sent again (detect, then align; a retry) skips the decode and the engine.

Entries are keyed by a hash of the body scoped to the caller (SHA-256 over the scope, then the body; the scope is
the API key when keys are on, so one client cannot learn from a hit's speed that another sent the same photo),
the model and engine that answered, and every option that changes the faces. They live in memory only, bounded
by bytes and by age, least recently used first out. Concurrent identical requests run once: the first computes,
the others wait for it (single flight); a request never waits on another photo's.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

SINGLE_FLIGHT_WAIT_S = 60.0  # a follower whose leader takes longer computes for itself


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None


class ResultCache:
    """``max_bytes`` of results, each kept ``ttl_s``; ``max_bytes`` 0 turns the cache off."""

    def __init__(self, max_bytes: int, ttl_s: float):
        self.max_bytes, self.ttl_s = max_bytes, ttl_s
        self._entries: OrderedDict[Hashable, tuple[float, int, Any]] = OrderedDict()  # key -> (expiry, size, value)
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        self._identity: Hashable = None
        self.bytes = self.hits = self.misses = self.evictions = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def key(self, data: bytes, scope: str, identity: Hashable, *parts: Hashable) -> Hashable | None:
        """The key of a result: the body's keyed hash, the engine's ``identity`` and the options ``parts``;
        None when the cache is off. A new identity (a reload, a fallback switch) empties the cache."""
        if not self.enabled:
            return None
        with self._lock:
            if identity != self._identity:
                self._identity = identity
                self._drop_all()
        # SHA-256, not BLAKE2b: CPUs with SHA instructions (x86 SHA-NI, the Pi 5's Armv8 crypto extensions) hash
        # a body in half the time; the scope goes first, so each caller's bodies hash apart.
        scoped = scope.encode()
        digest = hashlib.sha256(len(scoped).to_bytes(4, "big") + scoped)
        digest.update(data)
        return digest.digest(), identity, parts

    def get_or_compute(self, key: Hashable | None, compute: Callable[[], Any],
                       size: Callable[[Any], int]) -> tuple[Any, bool]:
        """(the value, whether it came from the cache); ``compute`` runs once for concurrent callers."""
        if key is None:
            return compute(), False
        with self._lock:
            value = self._get(key)
            if value is not None:
                self.hits += 1
                return value, True
            flight, leader = self._flights.get(key), False
            if flight is None:
                flight, leader = self._flights.setdefault(key, _Flight()), True
        if not leader:
            if flight.done.wait(SINGLE_FLIGHT_WAIT_S) and flight.value is not None:
                with self._lock:
                    self.hits += 1
                return flight.value, True
            return compute(), False  # the leader failed or is stuck: this request answers for itself
        try:
            value = compute()
            flight.value = value
            self.put(key, value, size(value))
            return value, False
        finally:
            flight.done.set()
            with self._lock:
                self._flights.pop(key, None)
                self.misses += 1

    def put(self, key: Hashable | None, value: Any, size: int) -> None:
        if key is None or size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self.bytes -= self._entries.pop(key)[1]
            self._entries[key] = (time.monotonic() + self.ttl_s, size, value)
            self.bytes += size
            while self.bytes > self.max_bytes:
                self.bytes -= self._entries.popitem(last=False)[1][1]
                self.evictions += 1

    def get(self, key: Hashable | None) -> Any:
        if key is None:
            return None
        with self._lock:
            return self._get(key)

    def _get(self, key: Hashable) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key]
            self.bytes -= entry[1]
            self.evictions += 1
            return None
        self._entries.move_to_end(key)
        return entry[2]

    def clear(self) -> None:
        with self._lock:
            self._drop_all()

    def _drop_all(self) -> None:
        self._entries.clear()
        self.bytes = 0

    def status(self) -> dict:
        """For /health and /metrics."""
        with self._lock:
            return {"enabled": self.enabled, "entries": len(self._entries), "bytes": self.bytes,
                    "max_bytes": self.max_bytes, "hits": self.hits, "misses": self.misses,
                    "evictions": self.evictions}
