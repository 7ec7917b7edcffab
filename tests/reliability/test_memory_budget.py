"""A burst of 39.5 MP photos under a 2 GiB memory limit: every request is answered (200, or 503 with
Retry-After), the process stays under the limit and lives. The limit is a real memory cgroup (the kernel
would kill the process past it, as systemd's MemoryMax= does) where this machine lets a test make one."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest
import requests
from PIL import Image

from support.server import ServerProcess, clean_env

LIMIT = 2 * 2**30
SIZE = (7680, 5140)  # 39.5 MP, just under limits.max_image_pixels


def memory_cgroup(tmp_name: str) -> Path | None:
    """A new memory cgroup (v2, else v1) below this process's, limited to LIMIT; None if none can be made."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and not controllers and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            base, limit_file = Path("/sys/fs/cgroup") / path.lstrip("/"), "memory.max"
        elif "memory" in controllers.split(","):
            base, limit_file = Path("/sys/fs/cgroup/memory") / path.lstrip("/"), "memory.limit_in_bytes"
        else:
            continue
        group = base / tmp_name
        try:
            group.mkdir(exist_ok=True)
            (group / limit_file).write_text(str(LIMIT))
            return group
        except OSError:
            continue
    return None


@pytest.fixture(scope="module")
def big_jpeg(shared) -> bytes:
    out = io.BytesIO()
    Image.open(shared / "images" / "t1.jpg").convert("RGB").resize(SIZE).save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture(scope="module")
def big_webp(shared) -> bytes:
    """Small to send (0.7 MB), large to decode: libwebp and Pillow hold about 6 times the RGB image."""
    out = io.BytesIO()
    Image.open(shared / "images" / "t1.jpg").convert("RGB").resize(SIZE).save(out, "WEBP", quality=80)
    return out.getvalue()


@pytest.fixture(scope="module")
def server(shared):
    group = memory_cgroup(f"hailo-scrfd-test-{os.getpid()}")
    # Without a cgroup, the budget the service would derive under a 2 GiB MemoryMax= is set by hand.
    args = () if group else ("--config", str(_budget_config(shared)))
    srv = ServerProcess(shared / "models" / "scrfd_2.5g_bnkps.onnx", *args,
                        env=clean_env(MALLOC_ARENA_MAX="1"),
                        preexec_fn=(lambda: (group / "cgroup.procs").write_text(str(os.getpid()))) if group else None)
    try:
        health = srv.wait_ready(120)
        yield srv, health, group
    finally:
        srv.stop()
        if group is not None:
            group.rmdir()


def _budget_config(shared) -> Path:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"hailo-scrfd-budget-{os.getpid()}.yaml"
    path.write_text(f"limits:\n  memory_budget_mb: {int((LIMIT - 300 * 2**20) * 0.8) // 2**20}\n")
    return path


def burst(url: str, requests_args: list[dict]) -> list[requests.Response]:
    answers: list = [None] * len(requests_args)

    def send(i: int) -> None:
        try:
            answers[i] = requests.post(url, timeout=300, **requests_args[i])
        except requests.RequestException as exc:
            answers[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests_args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    return answers


def peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) * 1024


@pytest.mark.e2e
@pytest.mark.parametrize("clients", [8, 16])
def test_a_burst_of_large_photos_stays_within_the_memory_limit(server, big_jpeg, big_webp, clients):
    srv, health, group = server
    budget = health["memory"]["capacity_mb"] * 2**20
    assert budget < LIMIT
    if group is not None:  # derived from the cgroup's limit, as under systemd
        assert budget <= 0.8 * LIMIT
    jpeg = {"data": big_jpeg, "headers": {"Content-Type": "image/jpeg"}}
    batch = {"files": [("images", ("a.jpg", big_jpeg, "image/jpeg")), ("images", ("b.jpg", big_jpeg, "image/jpeg"))]}
    webp = {"data": big_webp, "headers": {"Content-Type": "image/webp"}}
    counts = {}
    for name, path, args in (("redact", "/v1/redact", jpeg), ("draw", "/v1/draw", jpeg), ("align", "/v1/align", jpeg),
                             ("batch", "/v1/detect", batch), ("webp", "/v1/detect", webp)):
        answers = burst(srv.url + path, [args] * clients)
        assert srv.proc.poll() is None, f"the server died during {path}:\n{srv.log()[-3000:]}"
        for answer in answers:
            assert isinstance(answer, requests.Response), f"{path}: {answer!r}"
            assert answer.status_code in (200, 503), (path, answer.status_code, answer.text[:300])
            if answer.status_code == 503:
                assert answer.headers.get("Retry-After") and answer.json()["error"]["code"] == "queue_full"
        counts[name] = sum(a.status_code == 200 for a in answers)
        assert counts[name] >= 1, path
    peak = peak_rss(srv.proc.pid)
    print(f"\n{clients} clients: answered 200 {counts} of {clients} each; peak RSS {peak / 2**20:.0f} MB, "
          f"budget {budget / 2**20:.0f} MB, {'cgroup' if group else 'configured'} limit {LIMIT / 2**20:.0f} MB")
    assert peak < LIMIT
    assert requests.get(srv.url + "/health", timeout=10).status_code == 200
