"""Where a stream may read from: the fences of ``POST /v1/streams``, and the openers they hand to the video layer.

Off unless ``streams.enabled``. URL sources (rtsp, http MJPEG) also need ``url_fetch.enabled`` and pass its
fences: allow-listed host, no credentials, the host resolved once and every address checked (private,
loopback and link-local refused unless ``url_fetch.allow_private_addresses``), and the connection made to
the checked address (RTSP through OpenCV is given the address itself, so FFmpeg cannot re-resolve it).
Each reconnect re-runs the checks. File sources must resolve to a file under ``streams.media_dir``.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import urllib.parse
from pathlib import Path
from typing import Any, Callable

from ..errors import InvalidParameter
from ..video.sources import CaptureSource, FrameSource, MjpegSource, SourceError
from .fetch import _PinnedHTTPConnection, _PinnedHTTPSConnection, fenced_url

DEFAULT_PORTS = {"rtsp": 554, "http": 80, "https": 443}


def stream_source(body: Any, config) -> tuple[str, Callable[[], FrameSource], bool]:
    """(label, opener, live) for a ``{"url": ...}`` or ``{"file": ...}`` request body; 400 when refused."""
    if not config.streams.enabled:
        raise InvalidParameter("video streams are disabled on this server (streams.enabled)")
    if not isinstance(body, dict) or len(body) != 1 or not isinstance(next(iter(body.values())), str) \
            or next(iter(body)) not in ("url", "file"):
        raise InvalidParameter("send {\"url\": \"rtsp://...\" or \"http://...\"} or {\"file\": \"name.mp4\"}")
    if "file" in body:
        path = media_file(body["file"], config.streams.media_dir)
        max_pixels = config.limits.max_image_pixels
        return f"file:{body['file']}", lambda: CaptureSource(
            str(path), timeout_s=config.streams.stall_timeout_s, realtime=True, max_pixels=max_pixels), False
    url = body["url"].strip()
    check_url(url, config)  # refuse now, with a clear 400, rather than as a stream error later
    return _redacted(url), lambda: open_url(url, config), True


def media_file(name: str, media_dir: str) -> Path:
    if not media_dir:
        raise InvalidParameter("file sources are disabled on this server (streams.media_dir is not set)")
    root = Path(media_dir).resolve()
    path = (root / name).resolve()
    if not name or os.path.isabs(name) or not path.is_relative_to(root):
        raise InvalidParameter("'file' must be a path relative to the media directory, inside it")
    if not path.is_file():
        raise InvalidParameter(f"no file {name[:80]!r} in the media directory")
    return path


def check_url(url: str, config) -> tuple[urllib.parse.SplitResult, str, int]:
    """The URL's parts, the checked address to connect to, and the port; InvalidParameter when fenced off."""
    parts, _, address, port = fenced_url(url, config.url_fetch, config.streams.schemes, DEFAULT_PORTS,
                                         "URL sources are disabled on this server (url_fetch.enabled)")
    return parts, address, port


def open_url(url: str, config) -> FrameSource:
    """Open a checked URL (the checks run again: this is also the reconnect path)."""
    parts, address, port = check_url(url, config)
    timeout, max_pixels = config.streams.stall_timeout_s, config.limits.max_image_pixels
    if parts.scheme.lower() == "rtsp":
        host = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
        pinned = urllib.parse.urlunsplit(("rtsp", f"{host}:{port}", parts.path, parts.query, ""))
        return CaptureSource(pinned, timeout_s=timeout, realtime=False, max_pixels=max_pixels)
    https = parts.scheme.lower() == "https"
    conn = (_PinnedHTTPSConnection if https else _PinnedHTTPConnection)(parts.hostname, address, port, timeout)
    try:
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        conn.request("GET", target, headers={"Host": parts.netloc, "User-Agent": "hailo-scrfd",
                                             "Accept": "multipart/x-mixed-replace, image/jpeg"})
        resp = conn.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise SourceError("open_failed", f"connecting to the source failed: {type(exc).__name__}") from None
    if resp.status != 200:
        conn.close()
        raise SourceError("open_failed", f"the source answered HTTP {resp.status}"
                          + (" (redirects are not followed)" if 300 <= resp.status < 400 else ""))
    return MjpegSource(resp, resp.getheader("Content-Type", ""), max_bytes=int(config.url_fetch.max_mb * 1048576),
                       max_pixels=max_pixels)


def _redacted(url: str) -> str:
    """The URL as listed: without its query string, which may carry a camera's token."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

