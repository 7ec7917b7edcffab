"""The config sections that decide who may call the service and what it may reach: API keys, URL fetching
and video sources. Their keys fail closed: a bad value stops the start instead of falling back to a default
that would leave the service open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..declared import setting as _key


@dataclass(frozen=True)
class SecuritySection:
    """API keys: with none set, anyone who can reach the port may call the API."""

    fail_closed: ClassVar[bool] = True

    api_keys: tuple[str, ...] = _key((), "API keys. When any is set (here or in the file below), every request "
                                     "must carry one, as \"Authorization: Bearer <key>\" or \"X-API-Key: <key>\"; "
                                     "a missing or wrong key gets 401. Empty: no keys, anyone who can reach the "
                                     "port may call the API.")
    api_keys_file: str = _key("", "A file of API keys, one per line, # for comments (readable by the service "
                              "user only); an unreadable file stops the start.")
    health_public: bool = _key(True, "With keys set, GET /health still answers without one (for load balancers).")
    metrics_public: bool = _key(False, "With keys set, GET /metrics answers without one (Prometheus can send a "
                                "bearer token instead).")


@dataclass(frozen=True)
class UrlFetchSection:
    """Accept {"url": "https://..."} in JSON bodies instead of "image". Off by default: a service that fetches
    URLs can be aimed at internal hosts (SSRF). When on, only the schemes and hosts below are fetched,
    redirects are not followed, and each fetch is bounded in time and size."""

    fail_closed: ClassVar[bool] = True

    enabled: bool = _key(False, "Accept {\"url\": ...} instead of an image.")
    allowed_schemes: tuple[str, ...] = _key(("https",), "Schemes that may be fetched: http, https.")
    allowed_hosts: tuple[str, ...] = _key((), "Hosts that may be fetched: exact names, or *.example.org for any "
                                          "subdomain. Empty: none.")
    allow_private_addresses: bool = _key(False, "Allow hosts that resolve to private, loopback or link-local "
                                         "addresses (SSRF risk: only for trusted internal hosts).")
    timeout_s: float = _key(5.0, "Deadline for one fetch, in seconds.", min=0.1, max=60)
    max_mb: float = _key(20.0, "Largest image fetched, in MiB.", min=0.01, max=1024)


@dataclass(frozen=True)
class StreamsSection:
    """Video: POST /v1/streams opens a stream on an RTSP or HTTP MJPEG URL, or a video file under media_dir;
    GET /v1/streams/{id}/events sends its face tracks as Server-Sent Events. URL sources also need
    url_fetch.enabled, and pass its fences (allowed_hosts, allow_private_addresses)."""

    enabled: bool = _key(False, "Accept POST /v1/streams.", fail_closed=True)
    schemes: tuple[str, ...] = _key(("rtsp", "http"), "URL schemes a stream may use: rtsp, http, https (HTTP "
                                    "sources are MJPEG).", fail_closed=True)
    media_dir: str = _key("", "Directory whose video files may be opened as streams (paths are relative to it, "
                          "and may not leave it). Empty: no files.", fail_closed=True)
    max_streams: int = _key(4, "Streams running at once; more get 429.", min=1, max=256, fail_closed=True)
    max_fps: float = _key(15.0, "Frames processed per second per stream. A stream keeps only its newest frame: "
                          "frames that arrive while one is processed replace it and are counted as dropped.",
                          min=0.1, max=1000)
    max_clients: int = _key(4, "Event (SSE) clients at once, all streams together; each holds a worker thread, "
                            "so keep it below performance.worker_threads.", min=1, max=256, fail_closed=True)
    max_sessions: int = _key(16, "Pushed-frame tracking sessions (POST /v1/track) at once; more get 429.",
                             min=1, max=10000, fail_closed=True)
    session_idle_s: float = _key(60.0, "Seconds a pushed-frame session may go without a frame before it expires.",
                                 min=1, max=86400)
    stall_timeout_s: float = _key(10.0, "Seconds a source may yield no frame before the stream ends with an "
                                  "error event.", min=0.5, max=600)
    retries: int = _key(0, "Times a failed source is reopened, with doubling backoff, before the stream ends.",
                        min=0, max=100)
    retry_backoff_s: float = _key(1.0, "First wait before reopening, in seconds; it doubles each try, up to 60.",
                                  min=0.1, max=60)
    lost_track_frames: int = _key(15, "Processed frames a track survives without its face before it ends (and "
                                  "its best shot is sent).", min=1, max=1000)
    keepalive_s: float = _key(15.0, "An idle event stream sends an SSE comment this often, in seconds, so a dead "
                              "client is noticed.", min=0.5, max=300)
    best_shot_size: int = _key(112, "Side of the aligned best-shot crop, a multiple of 112 or 128.",
                               min=112, max=1024)
