"""A fresh install, as `make serve` meets it: the default configuration and an empty model dir.

The first start serves FP32 at once and makes the INT8 version from synthetic scenes in the background
(``model.auto_int8``); one client keeps sending t1.jpg the whole time, so the numbers show whether any request
failed or slowed while it worked. Later starts find that INT8 version (and its optimised graph) in the dir.
The dir is kept, so that the benchmark's "default" server and its latency rows run exactly this install.
"""

from __future__ import annotations

import http.client
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench import ab
from bench.common import rss_mb
from hailo_scrfd.backends.onnx_auto import AUTO_ENV  # the test suite turns it off; a fresh install has it on
from hailo_scrfd.system.models import MODEL_DIR_ENV
from support.server import ServerProcess, clean_env

CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8", "avx_vnni", "asimddp", "i8mm")


def cpu_flags() -> str:
    """The CPU features INT8 speed depends on, as /proc/cpuinfo lists them (x86 flags, Arm features)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    words = set(text.split())
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith(("model name", "Model"))), "unknown CPU")
    return f"{model}; " + (" ".join(f for f in CPU_FLAGS if f in words) or "none of " + " ".join(CPU_FLAGS))


def fresh_env(model_dir: Path) -> dict[str, str]:
    env = clean_env(**{MODEL_DIR_ENV: str(model_dir)})
    env.pop(AUTO_ENV, None)
    return env


def precision(port: int) -> dict | None:
    """What /health says runs (None when it cannot be read just now)."""
    try:
        model = requests.get(f"http://127.0.0.1:{port}/health", timeout=5).json().get("model") or {}
    except (requests.RequestException, ValueError):
        return None
    return model.get("precision")


def settled(now: dict | None) -> bool:
    """Whether auto is done: INT8 swapped in, or FP32 kept with the reason in ``int8`` (slower here, failed its
    check, quantizing failed); while it works, ``int8`` says ``quantizing``."""
    return bool(now) and now.get("int8") != "quantizing"


PAUSE_S = 0.25  # light steady traffic: a request every quarter second, not a load that starves the quantizer


def _steady_client(port: int, body: bytes, stop: threading.Event, out: dict) -> None:
    """One keep-alive client, t1.jpg every :data:`PAUSE_S` until ``stop``: (when, ms) of each answer, and
    failures."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        started = time.perf_counter()
        try:
            conn.request("POST", "/v1/detect", body=body, headers={"Content-Type": "image/jpeg"})
            resp = conn.getresponse()
            resp.read()
            ok = resp.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        out["ms" if ok else "failed"].append((started, (time.perf_counter() - started) * 1000.0))
        stop.wait(PAUSE_S)
    conn.close()


def first_start(model_path: Path, model_dir: Path, body: bytes, config: Path, timeout_s: float) -> dict:
    """Time to ready, then time until ``model.precision: auto`` settles (INT8 swapped in, or FP32 kept with its
    reason), under one steady client."""
    started = time.perf_counter()
    server = ServerProcess(model_path, "--config", str(config), env=fresh_env(model_dir))
    try:
        server.wait_ready(120)
        ready_s = time.perf_counter() - started
        first = precision(server.port)
        stop, load = threading.Event(), {"ms": [], "failed": []}
        client = threading.Thread(target=_steady_client, args=(server.port, body, stop, load))
        client.start()
        swapped_s, now = None, first
        try:
            while time.perf_counter() - started < timeout_s:
                now = precision(server.port) or now
                if settled(now):
                    swapped_s = time.perf_counter() - started
                    break
                time.sleep(0.5)
            time.sleep(5.0)  # some requests on INT8
        finally:
            stop.set()
            client.join()
        rss = rss_mb(server.proc.pid)
    finally:
        server.stop()
    swap_at = started + (swapped_s or float("inf"))
    load["before"] = [ms for t, ms in load["ms"] if t < swap_at]
    load["after"] = [ms for t, ms in load["ms"] if t >= swap_at]
    return {"ready_s": ready_s, "at_ready": first, "swapped_s": swapped_s, "after": now, "load": load, "rss": rss}


def later_starts(model_path: Path, model_dir: Path, config: Path, n: int) -> list[tuple[float, dict | None]]:
    """Time to ready and the precision /health reports, for ``n`` starts on the filled dir."""
    out = []
    for _ in range(n):
        started = time.perf_counter()
        server = ServerProcess(model_path, "--config", str(config), env=fresh_env(model_dir))
        try:
            server.wait_ready(60)
            out.append((time.perf_counter() - started, precision(server.port)))
        finally:
            server.stop()
    return out


def fresh_install(model_path: Path, body: bytes, starts: int, timeout_s: float = 900.0) -> tuple[Path, dict]:
    """A new model dir (under .bench/), its first start and ``starts`` later ones: (the dir, the measures)."""
    base = ab.ROOT / ".bench"
    base.mkdir(exist_ok=True)
    for old in base.glob("fresh-*"):
        shutil.rmtree(old, ignore_errors=True)
    model_dir = Path(tempfile.mkdtemp(prefix="fresh-", dir=base))
    config = model_dir / "default.yaml"  # the default configuration; the bench sends repeats, so no cache
    config.write_text(ab.NO_CACHE)
    first = first_start(model_path, model_dir, body, config, timeout_s)
    return model_dir, {"first": first, "later": later_starts(model_path, model_dir, config, starts),
                       "cpu": cpu_flags()}


def print_fresh(measures: dict) -> None:
    first, later = measures["first"], measures["later"]
    load = first["load"]
    print(f"fresh install (default configuration, empty model dir) on: {measures['cpu']}")
    swapped = f"{first['swapped_s']:.0f} s" if first["swapped_s"] is not None else "no answer in time (see its log)"
    print(f"  first start: ready (serving {(first['at_ready'] or {}).get('precision')}) in {first['ready_s']:.2f} s;"
          f" auto settled at {swapped}: {first['after']}")
    for when, ms in (("while it worked (FP32)", load["before"]), ("after it settled", load["after"])):
        if ms:
            print(f"  one client, a request every {PAUSE_S} s, {when}: {len(ms)} answered, p50 "
                  f"{statistics.median(ms):.1f} ms, max {max(ms):.1f} ms")
    print(f"  failed requests: {len(load['failed'])}; RSS after the swap: {first['rss']:.0f} MB")
    times = [s for s, _ in later]
    if times:
        print(f"  later starts: ready in {', '.join(f'{s:.2f}' for s in times)} s (median "
              f"{statistics.median(times):.2f}); serving {later[-1][1]}")
