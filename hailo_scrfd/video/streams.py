"""`StreamSession`: one video source, read on one thread, detected and tracked on another.

The reader puts each frame into a :class:`~.events.LatestFrame`; the processor takes the newest one, at
most ``max_fps`` times a second, runs the pipeline's frame detection (a session never touches a backend) and
the :class:`~.tracking.FaceTracker`, and publishes events: ``frame`` per processed frame,
``best_shot`` per ended track, ``state`` while reconnecting, and finally ``end`` or ``error``. Memory is
bounded: one frame in the slot, one in hand, one crop per live track, and each client's event buffer.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ServiceError
from ..pipeline import FacePipeline
from .events import Event, EventHub, LatestFrame
from .response import best_shot_json, tracks_json
from .sources import FrameSource, SourceError
from .tracking import BestShot, FaceTracker

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 60.0


@dataclass(frozen=True)
class StreamSettings:
    max_fps: float = 15.0
    retries: int = 0
    retry_backoff_s: float = 1.0
    lost_frames: int = 15
    crop_size: int = 112
    live: bool = True          # a live source's end is a fault; a file's end is its normal end


class StreamSession:
    """A running stream. ``opener`` opens (or reopens, on retry) its source; ``pipeline`` finds the faces, and
    its quality thresholds judge them."""

    def __init__(self, stream_id: str, source: str, opener: Callable[[], FrameSource], pipeline: FacePipeline,
                 settings: StreamSettings, hub: EventHub | None = None):
        self.id, self.source, self.settings = stream_id, source, settings
        self._opener, self._pipeline = opener, pipeline
        self.hub = hub or EventHub()
        self.slot = LatestFrame()
        self.tracker = FaceTracker(lost_frames=settings.lost_frames, crop_size=settings.crop_size,
                                   quality=pipeline.quality_settings)
        self._stop = threading.Event()
        self.state, self.reason = "starting", ""
        self.created, self.ended_at = time.time(), None
        self.frames_in = self.frames_processed = self.frames_failed = self.tracks_total = 0
        self.lag_ms = 0.0
        self._threads = [threading.Thread(target=self._read_loop, name=f"stream-{stream_id}-read", daemon=True),
                         threading.Thread(target=self._process_loop, name=f"stream-{stream_id}-track", daemon=True)]

    def start(self) -> "StreamSession":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, reason: str = "closed by the client") -> None:
        if not self._stop.is_set():
            self.reason = self.reason or reason
            self._stop.set()
        self.slot.close()

    def join(self, timeout_s: float) -> None:
        for thread in self._threads:
            thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self.state in ("starting", "running", "reconnecting")

    @property
    def dropped(self) -> int:
        return self.slot.dropped

    def info(self) -> dict:
        return {"id": self.id, "source": self.source, "state": self.state, "reason": self.reason or None,
                "created": round(self.created, 3), "frames_in": self.frames_in,
                "frames_processed": self.frames_processed, "frames_dropped": self.dropped,
                "frames_failed": self.frames_failed, "lag_ms": round(self.lag_ms, 1),
                "tracks_active": self.tracker.active, "tracks_total": self.tracks_total, "clients": self.hub.count}

    # -- reading ----------------------------------------------------------------------------

    def _read_loop(self) -> None:
        attempt, fault = 0, None
        while not self._stop.is_set():
            fault, got_frames = self._read_source()
            if self._stop.is_set() or fault is None:
                break
            if fault.reason == "eof" and not self.settings.live:
                self.reason, fault = "the file ended", None
                break
            attempt = 0 if got_frames else attempt
            if attempt >= self.settings.retries:
                break
            attempt += 1
            delay = min(self.settings.retry_backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
            self.state = "reconnecting"
            self.hub.publish(Event("state", {"state": "reconnecting", "reason": fault.reason,
                                             "message": fault.message, "attempt": attempt,
                                             "retry_in_s": round(delay, 2)}))
            self._stop.wait(delay)
        if fault is not None and not self._stop.is_set():
            self.state, self.reason = "error", f"{fault.reason}: {fault.message}"
        self.slot.close()

    def _read_source(self) -> tuple[SourceError | None, bool]:
        """Read frames until the source fails or the stream stops: (the fault or None, whether any frame came)."""
        try:
            source = self._opener()
        except SourceError as exc:
            return exc, False
        except ServiceError as exc:  # the fences refused the address on a re-resolve, or the fetch failed
            return SourceError("open_failed", exc.message), False
        got = False
        try:
            self.state = "running"
            while not self._stop.is_set():
                frame = source.read()
                self.frames_in += 1
                self.slot.put(frame, time.monotonic(), self.frames_in - 1)
                got = True
            return None, got
        except SourceError as exc:
            return exc, got
        except Exception as exc:  # a decoder bug must end this stream, not the service
            log.exception("stream %s: reading failed", self.id)
            return SourceError("read_failed", f"{type(exc).__name__}"), got
        finally:
            source.close()

    # -- processing -------------------------------------------------------------------------

    def _process_loop(self) -> None:
        period = 1.0 / self.settings.max_fps
        next_at = time.monotonic()
        try:
            while True:
                item = self.slot.take(0.5)
                if item is None:
                    if self.slot.closed:
                        break
                    continue
                self._process(*item)
                next_at = max(next_at + period, time.monotonic() - period)
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        except Exception:  # never let a bug kill the thread silently: the stream ends with an error
            log.exception("stream %s: processing failed", self.id)
            self.state, self.reason = "error", "internal error while processing frames"
        finally:
            self._finish()

    def _process(self, frame: np.ndarray, captured_at: float, index: int) -> None:
        try:
            faces = self._pipeline.detect_frame(frame)
        except ServiceError as exc:  # busy or recovering model: skip this frame, keep the stream
            self.frames_failed += 1
            log.debug("stream %s: frame %d skipped: %s", self.id, index, exc.message)
            return
        timestamp = time.time() - (time.monotonic() - captured_at)
        tracks, ended = self.tracker.update(faces, frame, index, timestamp)
        self.frames_processed += 1
        self.lag_ms = (time.monotonic() - captured_at) * 1000.0
        self.hub.publish(Event("frame", {"frame": index, "timestamp": round(timestamp, 3),
                                         "lag_ms": round(self.lag_ms, 1), "width": frame.shape[1],
                                         "height": frame.shape[0], "tracks": tracks_json(tracks)}))
        self._publish_shots(ended)

    def _publish_shots(self, shots: list[BestShot]) -> None:
        for shot in shots:
            self.tracks_total += 1
            self.hub.publish(Event("best_shot", best_shot_json(shot)))

    def _finish(self) -> None:
        self._publish_shots(self.tracker.finish())
        if self.state == "error":
            self.hub.publish(Event("error", {"reason": self.reason}))
        else:
            self.state, self.reason = "ended", self.reason or "closed"
        self.hub.publish(Event("end", {"state": self.state, "reason": self.reason,
                                       "frames_processed": self.frames_processed, "frames_dropped": self.dropped}))
        self.ended_at = time.monotonic()
        self.hub.close()


def new_id(prefix: str) -> str:
    """A short random id, such as ``st_Xq3v9kLmA2pC``: unguessable, so one client cannot read another's."""
    return prefix + secrets.token_urlsafe(9)
