"""Every `hailo-scrfd models` failure line, produced for real, is quoted in docs/troubleshooting.md.

The variable parts (the test server's URL, the cache directory, the OS's wording of the network error,
sizes) are replaced by the values the document shows before comparing.
"""

from __future__ import annotations

import io
import json
import re

import pytest

from hailo_scrfd.errors import ModelLoadError
from hailo_scrfd.system.download import DownloadError, Progress
from hailo_scrfd.system.models import load_manifest, pull, resolve_model

from ..conftest import ROOT
from ..e2e.model_http import FileServer
from support.server import free_port

DOC = (ROOT / "docs" / "troubleshooting.md").read_text()
DOC_URL = "https://huggingface.co/immich-app/buffalo_m/resolve/main/detection/model.onnx"
DOC_SHA = "041f73f47371333d1d17a6fee6c8ab4e6aecabefe398ff32cca4e2d5eaee0af9"
FILE = "scrfd_500m_bnkps.onnx"


def documented(message: str, url: str, cache=None) -> None:
    line = "hailo-scrfd: error: " + (message.replace(url, DOC_URL) if url else message)
    if cache is not None:
        line = line.replace(str(cache), "/root/.cache/hailo-scrfd/models")
    assert line in DOC, line


@pytest.fixture
def env(tmp_path, shared):
    with FileServer(shared / "models") as srv:
        def attempt(url, sha256=DOC_SHA, sources=1, attempts=3):
            manifest = tmp_path / "m.json"
            manifest.write_text(json.dumps({"models": {"scrfd_2.5g": {
                "format": "onnx", "file": "scrfd_2.5g.onnx", "sha256": sha256, "licence": "t",
                "sources": [{"url": url}] * sources}}}))
            with pytest.raises(DownloadError) as info:
                pull("scrfd_2.5g", manifest=load_manifest(manifest), dest_dir=tmp_path / "cache",
                     progress=Progress(io.StringIO(), tty=False), attempts=attempts, timeout_s=10)
            return str(info.value)
        yield srv, attempt


def test_no_network_is_documented(env):
    _, attempt = env
    url = f"http://127.0.0.1:{free_port()}/x.onnx"
    message = attempt(url, sources=2).replace("Connection refused", "Name or service not known")
    documented(message, url)


def test_404_is_documented(env):
    srv, attempt = env
    url = f"{srv.url}/files/nope.onnx"
    documented(attempt(url), url)


def test_wrong_hash_is_documented(env, shared):
    srv, attempt = env
    url = f"{srv.url}/files/scrfd_2.5g_bnkps.onnx"  # a real SCRFD export, but not the one pinned
    documented(attempt(url), url)


def test_full_disk_is_documented(env, tmp_path):
    srv, attempt = env
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / f".{FILE}.{DOC_SHA[:12]}.part").symlink_to("/dev/full")
    documented(attempt(f"{srv.url}/files/{FILE}"), "", tmp_path / "cache")


def test_interrupted_is_documented(env):
    srv, attempt = env
    url = f"{srv.url}/cut/{FILE}"
    message = re.sub(r"interrupted 1 times \(kept \d+ bytes\)", "interrupted 3 times (kept 1048576 bytes)",
                     attempt(url, attempts=1))
    documented(message, url)


def test_hef_without_hash_and_unknown_names_are_documented(tmp_path, monkeypatch):
    for var in ("HAILO_SCRFD_MODEL_DIR", "HAILO_SCRFD_MODELS_MANIFEST", "STATE_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = tmp_path / "hailo-scrfd" / "models"
    for name in ("scrfd_2.5g_hailo10h", "scrfd_3g"):
        with pytest.raises(DownloadError) as info:
            pull(name, use_hailo_apps=False)
        documented(str(info.value), "", cache)
    with pytest.raises(ModelLoadError) as info:
        resolve_model("scrfd_2.5g")
    documented(str(info.value), "", cache)
