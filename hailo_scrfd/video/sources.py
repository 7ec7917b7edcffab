"""Frame sources for streams: video files and RTSP through OpenCV's FFmpeg, HTTP MJPEG from a checked connection.

Why OpenCV's ``VideoCapture``: the service already ships ``opencv-python-headless``, whose FFmpeg reads RTSP,
MP4/H.264, MJPEG and the rest, with open and read deadlines (``CAP_PROP_OPEN_TIMEOUT_MSEC``,
``CAP_PROP_READ_TIMEOUT_MSEC``) that bound every blocking call; PyAV would add a second FFmpeg build to the
process for no feature we use. HTTP MJPEG is the exception: FFmpeg's HTTP client resolves the host itself and
follows redirects, which would step around the URL fences, so the HTTP layer opens a pinned, fenced
connection and :class:`MjpegSource` splits its multipart body into JPEG frames.

Every source raises :class:`SourceError` with a short reason when it ends, stalls or sends garbage.
"""

from __future__ import annotations

import os
import time
from typing import BinaryIO, Protocol

import cv2
import numpy as np

from ..errors import ServiceError
from ..vision.decode import decode_image

# RTSP over TCP: UDP loses frames on busy networks and needs inbound ports. Read by OpenCV at open time.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")

GARBAGE_LIMIT = 3          # undecodable frames in a row before a source is declared broken
MAX_HEADER_LINES = 32


class SourceError(Exception):
    """A source ended or failed. ``reason``: eof, stalled, garbage, open_failed or read_failed."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


class FrameSource(Protocol):
    def read(self) -> np.ndarray:
        """The next frame, RGB uint8 (H, W, 3); raises :class:`SourceError`."""

    def close(self) -> None:
        """Release the source; safe to call twice."""


class CaptureSource:
    """A file or RTSP URL through ``cv2.VideoCapture``. ``realtime``: pace frames at the file's own rate,
    so a file behaves like a camera (its frames arrive over time, and late ones are dropped)."""

    def __init__(self, target: str, *, timeout_s: float, realtime: bool, max_pixels: int):
        ms = int(timeout_s * 1000)
        self._cap = cv2.VideoCapture(target, cv2.CAP_FFMPEG,
                                     [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError("open_failed", "the source could not be opened (unreachable, or not a video)")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else 0.0
        self._period = 1.0 / self.fps if realtime and self.fps else 0.0
        self._max_pixels, self._next = max_pixels, time.monotonic()
        self._read = 0

    def read(self) -> np.ndarray:
        if self._period:
            self._next += self._period
            time.sleep(max(0.0, self._next - time.monotonic()))
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise SourceError("eof" if self._read else "read_failed",
                              "the source ended" if self._read else "the source sent no decodable frame")
        if bgr.ndim != 3 or bgr.shape[0] * bgr.shape[1] > self._max_pixels:
            raise SourceError("garbage", f"unusable frame of shape {bgr.shape}")
        self._read += 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._cap.release()


class MjpegSource:
    """JPEG frames from a ``multipart/x-mixed-replace`` HTTP body (an open, checked response).
    ``max_bytes`` bounds one frame; the response's socket timeout turns a silent source into ``stalled``."""

    def __init__(self, response: BinaryIO, content_type: str, *, max_bytes: int, max_pixels: int):
        boundary = _boundary(content_type)
        if boundary is None:
            response.close()
            raise SourceError("garbage", f"not an MJPEG stream (Content-Type {content_type[:60]!r})")
        self._resp, self._delimiter = response, b"--" + boundary
        self._max_bytes, self._max_pixels = max_bytes, max_pixels

    def read(self) -> np.ndarray:
        for _ in range(GARBAGE_LIMIT):
            data = self._part()
            try:
                return decode_image(data, max_pixels=self._max_pixels)
            except ServiceError:
                continue
        raise SourceError("garbage", f"{GARBAGE_LIMIT} frames in a row were not decodable images")

    def close(self) -> None:
        self._resp.close()

    def _part(self) -> bytes:
        """The next part's body: skip to the boundary, read the part headers, then its bytes."""
        try:
            for _ in range(MAX_HEADER_LINES):
                line = self._readline()
                if line.startswith(self._delimiter):
                    break
            else:
                raise SourceError("garbage", "no multipart boundary where one was expected")
            headers = {}
            for _ in range(MAX_HEADER_LINES):
                line = self._readline().strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = headers.get(b"content-length", b"")
            if not length.isdigit():
                raise SourceError("garbage", "an MJPEG part without Content-Length")
            if int(length) > self._max_bytes:
                raise SourceError("garbage", f"an MJPEG frame larger than {self._max_bytes} bytes")
            data = self._resp.read(int(length))
        except (TimeoutError, OSError) as exc:
            reason = "stalled" if isinstance(exc, TimeoutError) else "read_failed"
            raise SourceError(reason, f"reading the source failed: {reason}") from None
        if len(data) < int(length):
            raise SourceError("eof", "the source closed the stream")
        return data

    def _readline(self) -> bytes:
        line = self._resp.readline(1024)
        if not line:
            raise SourceError("eof", "the source closed the stream")
        return line


def _boundary(content_type: str) -> bytes | None:
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() not in ("multipart/x-mixed-replace", "multipart/mixed"):
        return None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return value.strip('"').removeprefix("--").encode("latin-1")
    return None
