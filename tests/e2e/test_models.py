"""`hailo-scrfd models`: real downloads from a local HTTP server that serves a ../shared model.

The manifest's URLs are overridden (``manifest=`` or ``$HAILO_SCRFD_MODELS_MANIFEST``) to point at the server.
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from hailo_scrfd.errors import ModelLoadError
from hailo_scrfd.system.download import DownloadError, Progress
from hailo_scrfd.system.models import load_manifest, pull, resolve_model

from .model_http import FileServer
from support.server import clean_env, free_port

FILE = "scrfd_500m_bnkps.onnx"


@pytest.fixture(scope="module")
def sha(shared) -> str:
    sums = dict(line.split()[::-1] for line in (shared / "models" / "SHA256SUMS").read_text().splitlines())
    return sums[FILE]


@pytest.fixture
def server(shared):
    with FileServer(shared / "models") as srv:
        yield srv


def write_manifest(path: Path, url: str, sha256: str, **source) -> Path:
    path.write_text(json.dumps({"default": "tiny", "models": {"tiny": {
        "format": "onnx", "file": "tiny.onnx", "sha256": sha256, "size": None, "licence": "test",
        "sources": [{"url": url, **source}]}}}))
    return path


def get(tmp_path, url, sha256, *, attempts=3, progress=None, **source):
    manifest = load_manifest(write_manifest(tmp_path / "models.json", url, sha256, **source))
    return pull("tiny", manifest=manifest, dest_dir=tmp_path / "cache", attempts=attempts,
                progress=progress or Progress(io.StringIO(), tty=False), timeout_s=10)


def leftovers(tmp_path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith("."))


def test_good_download_is_verified_and_renamed(tmp_path, server, shared, sha):
    out = io.StringIO()
    path = get(tmp_path, f"{server.url}/files/{FILE}", sha, progress=Progress(out, tty=False))
    assert path == tmp_path / "cache" / "tiny.onnx"
    assert path.read_bytes() == (shared / "models" / FILE).read_bytes()
    assert leftovers(tmp_path) == []
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"downloading tiny from {server.url}/files/{FILE} (2.5 MB)")
    assert "sha256 verified" in lines[-1] and "\r" not in out.getvalue()
    # A second pull finds the verified file and makes no request.
    before = len(server.requests)
    assert get(tmp_path, f"{server.url}/files/{FILE}", sha) == path and len(server.requests) == before


def test_wrong_hash_leaves_nothing(tmp_path, server):
    with pytest.raises(DownloadError, match=r"does not match its sha256 \(expected 0{64}, got [0-9a-f]{64}\)"):
        get(tmp_path, f"{server.url}/files/{FILE}", "0" * 64)
    assert not (tmp_path / "cache" / "tiny.onnx").exists() and leftovers(tmp_path) == []


def test_cut_off_transfer_resumes_with_range(tmp_path, server, shared, sha):
    path = get(tmp_path, f"{server.url}/cut/{FILE}", sha)
    half = (shared / "models" / FILE).stat().st_size // 2
    assert server.requests == [(f"/cut/{FILE}", None), (f"/cut/{FILE}", f"bytes={half}-")]
    assert path.read_bytes() == (shared / "models" / FILE).read_bytes()


def test_interrupted_pull_resumes_on_the_next_run(tmp_path, server, shared, sha):
    with pytest.raises(DownloadError, match="interrupted 1 times .*run the same command again to resume"):
        get(tmp_path, f"{server.url}/cut/{FILE}", sha, attempts=1)
    assert not (tmp_path / "cache" / "tiny.onnx").exists()  # only the hidden .part, never a complete-looking file
    [part] = leftovers(tmp_path)
    size = (tmp_path / "cache" / part).stat().st_size
    assert part.endswith(".part") and size == (shared / "models" / FILE).stat().st_size // 2
    get(tmp_path, f"{server.url}/cut/{FILE}", sha)
    assert server.requests[-1] == (f"/cut/{FILE}", f"bytes={size}-") and leftovers(tmp_path) == []


def test_server_without_range_restarts_from_zero(tmp_path, server, shared, sha):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / f".{FILE}.{sha[:12]}.part").write_bytes(b"stale bytes")
    path = get(tmp_path, f"{server.url}/norange/{FILE}", sha)
    assert server.requests == [(f"/norange/{FILE}", "bytes=11-")]
    assert path.read_bytes() == (shared / "models" / FILE).read_bytes()


def test_404_is_one_line(tmp_path, server, sha):
    with pytest.raises(DownloadError) as info:
        get(tmp_path, f"{server.url}/files/nope.onnx", sha)
    assert "HTTP 404 Not Found; pass --url with the file's current location" in str(info.value)
    assert "\n" not in str(info.value)


def test_redirect_is_followed(tmp_path, server, shared, sha):
    path = get(tmp_path, f"{server.url}/redirect/{FILE}", sha)
    assert [p for p, _ in server.requests] == [f"/redirect/{FILE}", f"/files/{FILE}"]
    assert path.read_bytes() == (shared / "models" / FILE).read_bytes()


def test_member_of_a_zip_pack(tmp_path, server, shared, sha):
    path = get(tmp_path, f"{server.url}/zip/{FILE}.zip", sha, member=FILE)
    assert path.read_bytes() == (shared / "models" / FILE).read_bytes() and leftovers(tmp_path) == []


def test_no_network(tmp_path, sha):
    with pytest.raises(DownloadError, match=r"no network \(Connection refused\); check the connection"):
        get(tmp_path, f"http://127.0.0.1:{free_port()}/files/{FILE}", sha)


def test_full_disk(tmp_path, server, sha):
    # /dev/full fails every write with ENOSPC, as a full disk does.
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / f".{FILE}.{sha[:12]}.part").symlink_to("/dev/full")
    with pytest.raises(DownloadError, match="no space left on device; free some space"):
        get(tmp_path, f"{server.url}/files/{FILE}", sha)
    assert not (tmp_path / "cache" / "tiny.onnx").exists()


def test_a_hef_without_a_hash_needs_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv("HAILO_SCRFD_MODEL_DIR", str(tmp_path))
    with pytest.raises(DownloadError, match="scrfd_2.5g_hailo10h has no published sha256: pass --sha256"):
        pull("scrfd_2.5g_hailo10h", use_hailo_apps=False)


def test_resolve_model_names_a_cached_model(tmp_path, server, sha, monkeypatch):
    monkeypatch.setenv("HAILO_SCRFD_MODELS_MANIFEST", str(write_manifest(tmp_path / "m.json",
                                                                           f"{server.url}/files/{FILE}", sha)))
    monkeypatch.setenv("HAILO_SCRFD_MODEL_DIR", str(tmp_path / "cache"))
    with pytest.raises(ModelLoadError, match=r"model tiny is not downloaded: run `hailo-scrfd models pull tiny`"):
        resolve_model("tiny")
    path = pull("tiny", progress=Progress(io.StringIO(), tty=False))
    assert resolve_model("tiny") == str(path)
    assert resolve_model("/some/where/model.onnx") == "/some/where/model.onnx"  # paths pass through
    with pytest.raises(ModelLoadError, match="not a known model name"):
        resolve_model("scrfd_3g")


def test_the_shipped_manifest_is_complete():
    manifest = load_manifest()
    assert manifest.default == "scrfd_2.5g"
    assert {"scrfd_2.5g", "scrfd_10g", "scrfd_500m"} <= set(manifest.models)
    assert {e.arch for e in manifest.models.values() if e.format == "hef"} == {"hailo10h", "hailo8", "hailo8l"}
    for e in manifest.models.values():
        assert e.sources and e.licence and all(s.url.startswith("https://") for s in e.sources)
        if e.format == "onnx":  # every ONNX has a pinned hash and size
            assert len(e.sha256) == 64 and e.size > 1_000_000


# -- the command line, on a terminal and off one --------------------------------------------------------------

def cli_env(tmp_path, server, sha) -> dict:
    manifest = write_manifest(tmp_path / "m.json", f"{server.url}/files/{FILE}", sha)
    return clean_env(HAILO_SCRFD_MODELS_MANIFEST=str(manifest), HAILO_SCRFD_MODEL_DIR=str(tmp_path / "cache"),
                     COLUMNS="100")


def run_in_pty(args: list[str], env: dict) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal, as in an interactive shell."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "hailo_scrfd", *args], stdout=slave, stderr=slave,
                            stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(30), b"".join(chunks).decode()


def test_cli_pull_off_a_terminal(tmp_path, server, sha):
    proc = subprocess.run([sys.executable, "-m", "hailo_scrfd", "models", "pull", "tiny"], capture_output=True,
                          text=True, env=cli_env(tmp_path, server, sha), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{tmp_path / 'cache' / 'tiny.onnx'}\n"  # stdout: the path, nothing else
    assert "\r" not in proc.stderr and "\x1b" not in proc.stderr
    assert proc.stderr.splitlines()[0].startswith("downloading tiny from")
    proc = subprocess.run([sys.executable, "-m", "hailo_scrfd", "models", "path", "tiny"], capture_output=True,
                          text=True, env=cli_env(tmp_path, server, sha), timeout=120)
    assert proc.returncode == 0 and proc.stdout == f"{tmp_path / 'cache' / 'tiny.onnx'}\n"
    listing = subprocess.run([sys.executable, "-m", "hailo_scrfd", "models", "list"], capture_output=True,
                             text=True, env=cli_env(tmp_path, server, sha), timeout=120).stdout.splitlines()
    assert listing[0].split("\t") == ["name", "format", "size", "sha256", "cached", "sources", "licence"]
    assert listing[1].split("\t")[:5] == ["tiny (default)", "onnx", "unknown", sha, str(tmp_path / "cache/tiny.onnx")]


def test_cli_pull_on_a_terminal(tmp_path, server, sha):
    code, out = run_in_pty(["models", "pull", "tiny"], cli_env(tmp_path, server, sha))
    assert code == 0, out
    assert "\rtiny [##############################] 100.0% 2.5 MB/2.5 MB" in out  # the bar, redrawn in place
    assert out.rstrip().endswith(str(tmp_path / "cache" / "tiny.onnx"))
    assert "downloading tiny from" not in out  # the log line is for logs, not terminals
    code, out = run_in_pty(["models", "list"], cli_env(tmp_path, server, sha))
    assert code == 0 and "\x1b[1mtiny (default)\x1b[0m  onnx" in out and "\t" not in out


def test_cli_errors_are_one_line(tmp_path, server, sha):
    env = cli_env(tmp_path, server, sha)
    for args, text in [(["models", "pull", "tiny", "--url", f"{server.url}/files/x.onnx", "--sha256", sha],
                        "HTTP 404 Not Found"),
                       (["models", "pull", "tiny", "--sha256", "xyz"], "--sha256 must be 64 hex digits"),
                       (["models", "pull", "other"], "unknown model other: pass --url and --sha256"),
                       (["models", "path", "tiny"], "model tiny is not downloaded")]:
        proc = subprocess.run([sys.executable, "-m", "hailo_scrfd", *args], capture_output=True, text=True, env=env,
                              timeout=120)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("hailo-scrfd: error:")]
        assert proc.returncode in (1, 2) and len(errors) == 1 and text in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr
