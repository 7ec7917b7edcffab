"""`StreamManager`: the service's streams and pushed-frame tracking sessions, within the config's caps.

Streams (:class:`~.streams.StreamSession`) read their own source; pushed-frame sessions get one frame per
``POST /v1/track`` and expire after ``session_idle_s`` without one. A janitor thread expires idle sessions
and forgets finished streams a minute after they end. Totals for /metrics and /health come from here.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import LimitReached, NotFound
from ..pipeline import FacePipeline
from .events import Subscription
from .response import best_shot_json, tracks_json
from .sources import FrameSource
from .streams import StreamSession, StreamSettings, new_id
from .tracking import FaceTracker, load_library

ENDED_KEPT_S = 60.0     # how long a finished stream stays listed (its state and reason readable)
JANITOR_PERIOD_S = 1.0


@dataclass
class PushSession:
    id: str
    tracker: FaceTracker
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)
    frames: int = 0


SERVER_ID_PREFIX = "tr_"  # ids the server issues; client-chosen names must not start with it


class StreamManager:
    """``settings``: the config's ``streams`` section; ``pipeline``: what finds each frame's faces."""

    def __init__(self, settings, pipeline: FacePipeline):
        self.settings, self.pipeline = settings, pipeline
        self._streams: dict[str, StreamSession] = {}
        self._sessions: dict[str, PushSession] = {}
        self._clients = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.totals = {"frames_processed": 0, "frames_dropped": 0, "tracks": 0, "streams": 0}
        self._janitor_thread: threading.Thread | None = None

    def _ensure_janitor(self) -> None:
        """Start the janitor with the first stream or session (caller holds the lock): apps that never
        use video, as in most tests, run no extra thread."""
        if self._janitor_thread is None:
            self._janitor_thread = threading.Thread(target=self._janitor, name="streams-janitor", daemon=True)
            self._janitor_thread.start()

    # -- streams ----------------------------------------------------------------------------

    def open(self, source: str, opener: Callable[[], FrameSource], *, live: bool) -> StreamSession:
        s = self.settings
        settings = StreamSettings(max_fps=s.max_fps, retries=s.retries, retry_backoff_s=s.retry_backoff_s,
                                  lost_frames=s.lost_track_frames, crop_size=s.best_shot_size, live=live)
        load_library()  # the first import is slow: never while holding the lock /health needs
        with self._lock:
            if sum(st.running for st in self._streams.values()) >= s.max_streams:
                raise LimitReached(f"{s.max_streams} streams are running (streams.max_streams); close one first")
            self._ensure_janitor()
            session = StreamSession(new_id("st_"), source, opener, self.pipeline, settings)
            self._streams[session.id] = session
            self.totals["streams"] += 1
        return session.start()

    def get(self, stream_id: str) -> StreamSession:
        with self._lock:
            session = self._streams.get(stream_id)
        if session is None:
            raise NotFound(f"no stream {stream_id[:40]!r} (closed, expired, or never opened)")
        return session

    def list(self) -> list[dict]:
        with self._lock:
            streams = list(self._streams.values())
        return [st.info() for st in streams]

    def close(self, stream_id: str) -> dict:
        session = self.get(stream_id)
        session.stop()
        session.join(0.5)
        with self._lock:
            self._forget(session)
        return session.info()

    def subscribe(self, stream_id: str) -> Subscription:
        session = self.get(stream_id)
        with self._lock:
            if self._clients >= self.settings.max_clients:
                raise LimitReached(f"{self.settings.max_clients} event clients are connected (streams.max_clients)")
            self._clients += 1
        return session.hub.subscribe()

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        with self._lock:
            self._clients -= 1

    # -- pushed frames ----------------------------------------------------------------------

    def track(self, session_id: str | None, frame: np.ndarray, options=None) -> dict:
        """Detect (with ``options``, else the defaults) and track one pushed frame; a new session when
        ``session_id`` is None."""
        session = self._push_session(session_id)
        faces = self.pipeline.detect_frame(frame, options)
        with session.lock:
            session.last_used = time.monotonic()
            tracks, ended = session.tracker.update(faces, frame, session.frames, time.time())
            session.frames += 1
            index = session.frames - 1
        with self._lock:
            self.totals["frames_processed"] += 1
            self.totals["tracks"] += len(ended)
        return {"session": session.id, "frame": index, "tracks": tracks_json(tracks),
                "best_shots": [best_shot_json(b) for b in ended]}

    def _push_session(self, session_id: str | None) -> PushSession:
        """The session named ``session_id``; a new one when it is None, or when the client named it itself and
        this is its first frame (behind a load balancer that routes by session, the name picks the instance,
        so the client must be able to choose it). An expired server-issued id (``tr_...``) is NotFound."""
        load_library()  # the first import is slow: never while holding the lock /health needs
        with self._lock:
            if session_id is not None:
                session = self._sessions.get(session_id)
                if session is not None:
                    session.last_used = time.monotonic()
                    return session
                if session_id.startswith(SERVER_ID_PREFIX):
                    raise NotFound(f"no tracking session {session_id[:40]!r} (expired after "
                                   f"{self.settings.session_idle_s:g} s idle, or never opened)")
            if len(self._sessions) >= self.settings.max_sessions:
                raise LimitReached(f"{self.settings.max_sessions} tracking sessions are open "
                                   "(streams.max_sessions); reuse one, or wait for one to expire")
            self._ensure_janitor()
            session = PushSession(session_id or new_id(SERVER_ID_PREFIX),
                                  FaceTracker(lost_frames=self.settings.lost_track_frames,
                                              crop_size=self.settings.best_shot_size,
                                              quality=self.pipeline.quality_settings))
            self._sessions[session.id] = session
            return session

    # -- accounting and housekeeping --------------------------------------------------------

    def stats(self) -> dict:
        with self._lock:
            streams = list(self._streams.values())
            totals, sessions, clients = dict(self.totals), len(self._sessions), self._clients
        running = [st for st in streams if st.running]
        return {"running": len(running), "listed": len(streams), "sessions": sessions, "clients": clients,
                "tracks_active": sum(st.tracker.active for st in running),
                "frames_processed": totals["frames_processed"] + sum(st.frames_processed for st in streams),
                "frames_dropped": totals["frames_dropped"] + sum(st.dropped for st in streams),
                "tracks_total": totals["tracks"] + sum(st.tracks_total for st in streams),
                "streams_total": totals["streams"],
                "lag_ms_max": max((st.lag_ms for st in running), default=0.0)}

    def shutdown(self) -> None:
        self._closed.set()
        with self._lock:
            streams = list(self._streams.values())
        for st in streams:
            st.stop("the service is stopping")
        for st in streams:
            st.join(2.0)

    def _forget(self, session: StreamSession) -> None:
        """Drop a stream from the registry, keeping its counts in the totals (caller holds the lock)."""
        if self._streams.pop(session.id, None) is not None:
            self.totals["frames_processed"] += session.frames_processed
            self.totals["frames_dropped"] += session.dropped
            self.totals["tracks"] += session.tracks_total

    def _janitor(self) -> None:
        while not self._closed.wait(JANITOR_PERIOD_S):
            now = time.monotonic()
            with self._lock:
                for sid, session in list(self._sessions.items()):
                    if now - session.last_used > self.settings.session_idle_s:
                        del self._sessions[sid]
                for st in list(self._streams.values()):
                    if st.ended_at is not None and now - st.ended_at > ENDED_KEPT_S:
                        self._forget(st)
