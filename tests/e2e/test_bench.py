"""The benchmark's short mode runs end to end (numbers are not checked here: no timing assertions in tests)."""

import subprocess
import sys

import pytest

from ..conftest import ROOT
from support.server import clean_env

pytestmark = pytest.mark.e2e


def test_benchmark_quick_mode_prints_every_target(shared):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench.py"), "--quick", "--shared", str(shared),
                           "--reference-python", "/nonexistent"], capture_output=True, text=True, timeout=300,
                          env=clean_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    for line in ("HTTP /v1/detect t1.jpg, 8 client(s)", "HTTP /v1/detect 12 MP JPEG", "RSS of the serving process",
                 "throughput at 8 clients / engine max rate", "12 MP JPEG / 1280-px JPEG", "start-up to ready",
                 "INT8 / FP32 run by run", "ours, precision fp32", "dynamic batching (onnx.batch_max 4)",
                 "throughput at 8 clients / naive peer", "12 MP JPEG end to end / its floor"):
        assert line in proc.stdout, line
