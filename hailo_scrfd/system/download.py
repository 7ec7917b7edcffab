"""A safe file download: sha256 verified before use, atomic rename, HTTP Range resume, one-line errors.

Built on the standard library's ``urllib`` rather than ``requests``: it follows redirects (GitHub release
assets redirect to a CDN) and passes a ``Range`` header through them, and the service then needs no
runtime dependency for a command that runs once per machine.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import logging
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .. import __version__

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
USER_AGENT = f"hailo-scrfd/{__version__} (+model download)"


class DownloadError(Exception):
    """A download that failed; the message is one line, fit for ``hailo-scrfd: error: ...``."""


@dataclass(frozen=True)
class Target:
    """What to fetch and what it must hash to. ``member`` names a file inside a zip archive at ``url``."""

    label: str
    url: str
    sha256: str
    size: int | None = None
    member: str | None = None
    archive_sha256: str | None = None
    archive_size: int | None = None


class Progress:
    """A bar redrawn in place on a terminal; otherwise one log line at the start and one at the end."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._label, self._total, self._done, self._start, self._drawn = "", None, 0, 0.0, 0.0

    def start(self, label: str, url: str, total: int | None, already: int) -> None:
        self._label, self._total, self._done, self._start = label, total, already, time.monotonic()
        if not self.tty:
            size = f" ({_mb(total)})" if total else ""
            resumed = f", resuming at {_mb(already)}" if already else ""
            self.stream.write(f"downloading {label} from {url}{size}{resumed}\n")
            self.stream.flush()

    def update(self, n: int) -> None:
        self._done += n
        now = time.monotonic()
        if self.tty and now - self._drawn >= 0.1:
            self._drawn = now
            self._draw(now)

    def finish(self, path: Path) -> None:
        elapsed = time.monotonic() - self._start
        if self.tty:
            self._draw(time.monotonic())
            self.stream.write("\n")
        self.stream.write(f"{self._label}: {_mb(self._done)} in {elapsed:.1f} s, sha256 verified: {path}\n")
        self.stream.flush()

    def _draw(self, now: float) -> None:
        rate = self._done / max(now - self._start, 1e-3)
        if self._total:
            frac = min(self._done / self._total, 1.0)
            bar = "#" * int(frac * 30)
            text = f"{self._label} [{bar:<30}] {frac * 100:5.1f}% {_mb(self._done)}/{_mb(self._total)} {_mb(rate)}/s"
        else:
            text = f"{self._label} {_mb(self._done)} {_mb(rate)}/s"
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()


def _mb(n: float | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


def download(target: Target, dest: Path, *, progress: Progress | None = None, attempts: int = 3,
             timeout_s: float = 30.0) -> Path:
    """Fetch ``target`` into ``dest``: nothing appears at ``dest`` unless its sha256 matched."""
    progress = progress or Progress()
    dest.parent.mkdir(parents=True, exist_ok=True)
    name = Path(urllib.parse.urlsplit(target.url).path).name or "download"
    part = dest.parent / f".{name}.{(target.archive_sha256 or target.sha256)[:12]}.part"
    total = target.archive_size if target.member else target.size
    got = _fetch(target, part, total, progress, attempts, timeout_s)
    expected = target.archive_sha256 if target.member else target.sha256
    if expected and got != expected:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{target.label} from {target.url} does not match its sha256 (expected {expected}, "
                            f"got {got}); the download was deleted: retry, or pass --url and --sha256 for a mirror")
    if target.member:
        try:
            _extract(target, part, dest)
        finally:
            part.unlink(missing_ok=True)
    else:
        _fsync(part)
        os.replace(part, dest)
    progress.finish(dest)
    return dest


def _fetch(target: Target, part: Path, total: int | None, progress: Progress, attempts: int,
           timeout_s: float) -> str:
    """Download into ``part``, resuming what is there; returns the sha256 of the complete file."""
    started = False
    for attempt in range(attempts):
        have = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": USER_AGENT, **({"Range": f"bytes={have}-"} if have else {})}
        try:
            resp = urllib.request.urlopen(urllib.request.Request(target.url, headers=headers), timeout=timeout_s)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing left to send: the part is complete (the hash decides)
                return _sha256(part)
            raise DownloadError(f"cannot download {target.label} from {target.url}: HTTP {exc.code} {exc.reason}; "
                                "pass --url with the file's current location, and --sha256") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DownloadError(f"cannot download {target.label} from {target.url}: no network ({_reason(reason)}); "
                                "check the connection, or pass --url with a reachable mirror") from None
        with resp:
            if resp.status != 206 or not _range_starts_at(resp.headers.get("Content-Range"), have):
                have = 0  # the server ignored the Range: start over
            length = resp.headers.get("Content-Length")
            expected_total = have + int(length) if length and length.isdigit() else total
            if not started:
                progress.start(target.label, target.url, expected_total, have)
                started = True
            if _copy(resp, part, have, target, progress):
                if expected_total is None or part.stat().st_size >= expected_total:
                    return _sha256(part)
        log.info("%s: transfer interrupted at %d bytes; resuming (attempt %d of %d)",
                 target.label, part.stat().st_size if part.exists() else 0, attempt + 2, attempts)
        time.sleep(min(0.2 * (attempt + 1), 2.0))
    size = part.stat().st_size if part.exists() else 0
    raise DownloadError(f"cannot download {target.label} from {target.url}: the transfer was interrupted "
                        f"{attempts} times (kept {size} bytes); run the same command again to resume")


def _copy(resp, part: Path, have: int, target: Target, progress: Progress) -> bool:
    """Append the body to ``part`` (truncated to ``have``); False if the connection broke off."""
    try:
        out = open(part, "r+b" if have else "wb")
        if have:
            out.seek(have)
            out.truncate()
    except OSError as exc:
        raise _write_error(target, part, exc) from None
    with out:
        while True:
            try:
                chunk = resp.read(CHUNK)
            except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError) as exc:
                if isinstance(exc, http.client.IncompleteRead) and exc.partial:
                    _write(out, exc.partial, target, part)
                return False
            if not chunk:
                return True
            _write(out, chunk, target, part)
            progress.update(len(chunk))


def _write(out, data: bytes, target: Target, part: Path) -> None:
    try:
        out.write(data)
        out.flush()
    except OSError as exc:
        raise _write_error(target, part, exc) from None


def _write_error(target: Target, part: Path, exc: OSError) -> DownloadError:
    where = part.parent
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DownloadError(f"cannot write {target.label} to {where}: no space left on device; free some space, "
                             "or point HAILO_SCRFD_MODEL_DIR at a larger disk")
    return DownloadError(f"cannot write {target.label} to {where}: {exc.strerror or exc}; "
                         "choose a writable directory with --dir or HAILO_SCRFD_MODEL_DIR")


def _extract(target: Target, archive: Path, dest: Path) -> None:
    """Copy the one member named ``target.member`` out of the zip, verify its hash, rename into place."""
    tmp = dest.parent / f".{dest.name}.tmp"
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [i for i in zf.infolist() if not i.is_dir() and Path(i.filename).name == target.member]
            if len(members) != 1:
                raise DownloadError(f"{target.label}: the archive at {target.url} holds {len(members)} files named "
                                    f"{target.member}, expected 1")
            h = hashlib.sha256()
            with zf.open(members[0]) as src, open(tmp, "wb") as out:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    _write(out, chunk, target, tmp)
    except zipfile.BadZipFile:
        raise DownloadError(f"{target.label}: {target.url} is not a zip archive") from None
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _write_error(target, tmp, exc) from None
    if h.hexdigest() != target.sha256:
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"{target.label} from {target.url} does not match its sha256 (expected {target.sha256}, "
                            f"got {h.hexdigest()}); the download was deleted: retry, or pass --url and --sha256 "
                            "for a mirror")
    _fsync(tmp)
    os.replace(tmp, dest)


def _range_starts_at(content_range: str | None, have: int) -> bool:
    # "bytes 100-999/1000"
    try:
        return content_range is not None and int(content_range.split()[1].split("-")[0]) == have
    except (IndexError, ValueError):
        return False


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
