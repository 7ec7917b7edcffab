"""The two small concurrency pieces of a stream: a one-frame mailbox and an event fan-out.

:class:`LatestFrame` keeps only the newest frame: a frame that arrives before the last one was taken
replaces it and is counted as dropped, so a slow detector never builds a queue. :class:`EventHub` hands
each event to every subscriber's own bounded buffer; a subscriber that falls behind loses its oldest
``frame`` events (counted), never a ``best_shot``, ``error`` or ``end``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KEPT_EVENTS = frozenset({"best_shot", "error", "end", "state"})


class LatestFrame:
    """A one-slot mailbox of (frame, captured_at)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: tuple[np.ndarray, float, int] | None = None
        self.dropped = 0
        self.closed = False

    def put(self, frame: np.ndarray, captured_at: float, index: int) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = (frame, captured_at, index)
            self._cond.notify()

    def take(self, timeout_s: float) -> tuple[np.ndarray, float, int] | None:
        """The newest frame, waiting at most ``timeout_s``; None when none came (or the slot is closed)."""
        with self._cond:
            if self._item is None and not self.closed:
                self._cond.wait(timeout_s)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


@dataclass
class Event:
    """A named event with a JSON-ready payload; ``wire`` caches its encoded form for the HTTP layer."""

    name: str
    data: dict[str, Any]
    wire: bytes | None = field(default=None, repr=False)


class Subscription:
    """One client's view of a hub: a bounded buffer of events."""

    def __init__(self, hub: "EventHub", size: int):
        self._hub, self._size = hub, size
        self._events: deque[Event] = deque()
        self._cond = threading.Condition()
        self.lost = 0
        self.closed = False

    def offer(self, event: Event) -> None:
        with self._cond:
            if len(self._events) >= self._size:
                oldest_frame = next((e for e in self._events if e.name not in KEPT_EVENTS), None)
                if oldest_frame is None and event.name not in KEPT_EVENTS:
                    self.lost += 1
                    return
                self._events.remove(oldest_frame if oldest_frame is not None else self._events[0])
                self.lost += 1
            self._events.append(event)
            self._cond.notify()

    def get(self, timeout_s: float) -> Event | None:
        """The next event, or None after ``timeout_s`` without one (or once closed and drained)."""
        with self._cond:
            if not self._events and not self.closed:
                self._cond.wait(timeout_s)
            return self._events.popleft() if self._events else None

    @property
    def finished(self) -> bool:
        with self._cond:
            return self.closed and not self._events

    def close(self) -> None:
        """Leave the hub (a client disconnected, or the stream ended)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        self._hub.remove(self)


class EventHub:
    """Fan-out of a stream's events to its subscribers."""

    def __init__(self, buffer_events: int = 64):
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._buffer = buffer_events
        self.closed = False
        self.last_event_at = time.monotonic()

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self._buffer)
        with self._lock:
            if self.closed:
                sub.closed = True
            else:
                self._subs.append(sub)
        return sub

    def remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, event: Event) -> None:
        with self._lock:
            subs = list(self._subs)
        self.last_event_at = time.monotonic()
        for sub in subs:
            sub.offer(event)

    def close(self) -> None:
        """No more events: subscribers drain what they hold, then finish."""
        with self._lock:
            self.closed, subs = True, list(self._subs)
        for sub in subs:
            with sub._cond:
                sub.closed = True
                sub._cond.notify_all()
