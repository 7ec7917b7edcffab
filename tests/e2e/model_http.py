"""A real HTTP file server on 127.0.0.1 for the model-download tests: Range, redirects, 404, cut-off bodies.

Routes (FILE is a name in the served directory):
  /files/FILE        the file; honours ``Range: bytes=N-`` with 206
  /cut/FILE          the first request for FILE sends the full Content-Length but only half the body and
                     closes; later requests behave like /files/
  /norange/FILE      always 200 with the whole file (a server without Range support)
  /redirect/FILE     302 to /files/FILE
  /zip/NAME.zip      a zip holding FILE=NAME from the served directory, plus a README
  anything else      404
"""

from __future__ import annotations

import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FileServer:
    def __init__(self, root: Path):
        self.root = root
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self._cut_done: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                kind, _, name = self.path.lstrip("/").partition("/")
                path = server.root / name
                if kind == "redirect" and path.is_file():
                    self.send_response(302)
                    self.send_header("Location", f"/files/{name}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if kind == "zip" and name.endswith(".zip") and (server.root / name[:-4]).is_file():
                    return self._send(_zip_of(server.root / name[:-4]), None)
                if kind not in ("files", "cut", "norange") or "/" in name or not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                if kind == "cut" and name not in server._cut_done:
                    server._cut_done.add(name)
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(data, None if kind == "norange" else self.headers.get("Range"))

            def _send(self, data: bytes, range_header: str | None):
                start = 0
                if range_header and range_header.startswith("bytes=") and range_header.endswith("-"):
                    start = int(range_header[6:-1])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                self.wfile.write(data[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _zip_of(path: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pack/README.txt", "a model pack")
        zf.write(path, f"pack/{path.name}")
    return buf.getvalue()
