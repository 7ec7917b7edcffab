"""Test videos made from the ../shared photos, so the truth is known: a slow zoom and a pan across t1.jpg and
selfie.jpg side by side, some frames blurred and one with a face covered; encoders for MJPEG and H.264/MP4;
and an MJPEG server on 127.0.0.1 that can also stall, die or send garbage on cue."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

HEIGHT = 720                   # the composite's height
OUT_W, OUT_H = 640, 480        # frame size
WIN_W, WIN_H = 960, 720        # the pan's window on the composite (scale 2/3)


@dataclass
class Scene:
    frames: list[np.ndarray]                       # RGB, OUT_H x OUT_W
    windows: list[tuple[float, float, float, float]]  # each frame's x0, y0, x1, y1 on the composite
    blurred: set[int] = field(default_factory=set)
    occluded: int = -1

    def to_composite(self, index: int, xyxy: np.ndarray) -> np.ndarray:
        """Frame ``index``'s boxes in composite pixels."""
        x0, y0, x1, y1 = self.windows[index]
        scale = (x1 - x0) / OUT_W
        return xyxy * scale + np.array([x0, y0, x0, y0])


def composite(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """t1.jpg and selfie.jpg side by side at HEIGHT, and t1's reference face boxes on it."""
    parts, boxes = [], None
    for name in ("t1.jpg", "selfie.jpg"):
        bgr = cv2.imread(str(shared / "images" / name))
        scale = HEIGHT / bgr.shape[0]
        parts.append(cv2.resize(bgr, (round(bgr.shape[1] * scale), HEIGHT), interpolation=cv2.INTER_AREA))
        if boxes is None:
            ref = json.loads((shared / "reference" / "insightface_detections.json").read_text())["results"]
            faces = ref["scrfd_2.5g_bnkps.onnx"]["t1.jpg"]["faces"]
            boxes = np.array([f["box"] for f in faces], np.float64) * scale
    return np.ascontiguousarray(np.concatenate(parts, axis=1)[:, :, ::-1]), boxes


def scene(shared: Path, *, zoom_frames: int = 40, pan_step: float = 12.0, blur_every: int = 10) -> Scene:
    """A slow zoom out from t1's faces, then a pan on to the end of selfie, in one continuous shot; every
    ``blur_every``-th frame is blurred, and the largest t1 face is covered in one frame."""
    image, t1_boxes = composite(shared)
    windows = []
    cx = t1_boxes[:, [0, 2]].mean()
    w0 = WIN_W * 0.75  # a slow zoom out, from 3/4 of the pan's window around t1's faces to the pan's start
    start = np.array([cx - w0 / 2, (HEIGHT - w0 * 0.75) / 2, cx + w0 / 2, (HEIGHT + w0 * 0.75) / 2])
    for t in np.linspace(0.0, 1.0, zoom_frames, endpoint=False):
        windows.append(tuple(float(v) for v in start + t * (np.array([0.0, 0.0, WIN_W, WIN_H]) - start)))
    for x0 in np.arange(0, image.shape[1] - WIN_W + 1, pan_step):
        windows.append((float(x0), 0.0, float(x0 + WIN_W), float(WIN_H)))
    frames = [_crop(image, win) for win in windows]
    blurred = set(range(blur_every - 1, len(frames), blur_every))
    for i in blurred:
        frames[i] = cv2.GaussianBlur(frames[i], (0, 0), 3.0)
    occluded = zoom_frames + 2
    face = t1_boxes[np.argmax((t1_boxes[:, 2] - t1_boxes[:, 0]) * (t1_boxes[:, 3] - t1_boxes[:, 1]))]
    x0, y0, x1, y1 = windows[occluded]
    s = OUT_W / (x1 - x0)
    bx = ((face - [x0, y0, x0, y0]) * s).round().astype(int)
    frames[occluded][max(bx[1], 0):bx[3], max(bx[0], 0):bx[2]] = 128
    return Scene(frames, windows, blurred, occluded)


def _crop(image: np.ndarray, window: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = window
    s = OUT_W / (x1 - x0)
    matrix = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float64)
    return cv2.warpAffine(image, matrix, (OUT_W, OUT_H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def jpegs(frames: list[np.ndarray], quality: int = 90) -> list[bytes]:
    return [cv2.imencode(".jpg", f[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes() for f in frames]


def write_mjpeg_avi(frames: list[np.ndarray], path: Path, fps: float) -> Path:
    """Motion JPEG in an AVI container, with OpenCV's writer."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (OUT_W, OUT_H))
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()
    return path


def write_h264_mp4(frames: list[np.ndarray], path: Path, fps: int) -> Path:
    """H.264 in MP4, with PyAV's libx264 (OpenCV's wheel has no H.264 encoder; it decodes it fine)."""
    import av  # test-only: PyAV comes with supervision

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = OUT_W, OUT_H, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


class MjpegServer:
    """multipart/x-mixed-replace MJPEG on 127.0.0.1, one thread per client. ``loop``: repeat the frames;
    ``die_after``: close the connection after that many frames; ``garbage_after``: send non-JPEG parts
    after that many frames; ``stall_after``: stop sending (but keep the connection) after that many."""

    def __init__(self, frames: list[bytes], fps: float, *, loop: bool = False, die_after: int | None = None,
                 garbage_after: int | None = None, stall_after: int | None = None):
        self.frames, self.fps, self.loop = frames, fps, loop
        self.die_after, self.garbage_after, self.stall_after = die_after, garbage_after, stall_after
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/stream.mjpg"
        self.sent = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n")
            start, n = time.monotonic(), 0
            while not self._stop.is_set() and (self.loop or n < len(self.frames)):
                if self.die_after is not None and n >= self.die_after:
                    return
                if self.stall_after is not None and n >= self.stall_after:
                    self._stop.wait(60)
                    return
                data = self.frames[n % len(self.frames)]
                if self.garbage_after is not None and n >= self.garbage_after:
                    data = b"\x00garbage" * 100
                try:
                    conn.sendall(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
                                 + data + b"\r\n")
                except OSError:
                    return
                n += 1
                self.sent += 1
                time.sleep(max(0.0, start + n / self.fps - time.monotonic()))
