"""A real RTSP server on 127.0.0.1 for the stream tests: GStreamer's rtsp-server in a subprocess of the system
Python (Debian's python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good and -bad; .ci/run installs
them), serving an H.264 MP4 or numbered JPEG files made by :mod:`support.video`.

Not the AVI of ``write_mjpeg_avi``: its frames, from OpenCV's own MJPEG writer, come out of RTP/JPEG as garbage
(mean error about 100 grey levels, against 1.3 for ``cv2.imencode``'s libjpeg frames). RFC 2435 fixes the JPEG
layout (chroma on quantisation table 1) and that writer puts chroma on table 0. Cameras use libjpeg's layout."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("rtsp_gst.py")
PROBE = ("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
         "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
         "assert all(Gst.ElementFactory.find(e) for e in ('filesrc', 'qtdemux', 'h264parse', 'rtph264pay', "
         "'multifilesrc', 'jpegparse', 'rtpjpegpay'))")
MISSING = ("GStreamer's RTSP server is not installed (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 "
           "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad); .ci/run installs it")


def available() -> bool:
    """Whether the system Python can run the server: PyGObject, GstRtspServer and the elements it uses."""
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", PROBE], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class RtspServer:
    """Serves ``source`` at ``self.url`` until :meth:`stop`: an H.264 ``.mp4``, or a ``%03d`` pattern of JPEG
    files sent at ``fps``; ``timeout_s`` bounds the start."""

    def __init__(self, source: Path, mount: str = "/pan", fps: int = 15, timeout_s: float = 20.0):
        self._log = tempfile.TemporaryFile("w+")  # GStreamer's warnings; stdout carries only the port line
        self.proc = subprocess.Popen([SYSTEM_PYTHON, str(SCRIPT), str(source), mount, str(fps)], stdout=subprocess.PIPE,
                                     stderr=self._log, text=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout_s)
        if not line or not line[0].startswith("port "):
            self.stop()
            raise RuntimeError(f"the RTSP server did not start within {timeout_s} s: {self.log()}")
        self.url = f"rtsp://127.0.0.1:{int(line[0].split()[1])}{mount}"

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read()[-4000:]

    def stop(self) -> int:
        """Kill the server at once, as a camera that loses power (no RTSP TEARDOWN, the TCP connection drops)."""
        if self.proc.poll() is None:
            self.proc.kill()
        rc = self.proc.wait(10)
        self.proc.stdout.close()
        return rc

    def close(self) -> None:
        self.stop()
        self._log.close()
