"""deploy/pi-constraints.txt resolves, with pip's own resolver, for a Raspberry Pi 5 (aarch64) on Python 3.11
(Raspberry Pi OS bookworm) and 3.13 (trixie), to a NumPy that HailoRT 5.1.1+'s binding reads. Needs the
package registry; skips only when it cannot be reached."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ..conftest import ROOT

PLATFORMS = [f"manylinux_2_{v}_aarch64" for v in range(36, 16, -1)] + ["manylinux2014_aarch64"]  # glibc 2.36 down


def resolve(python: str, *constraints: str) -> tuple[int, dict, str]:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        pytest.skip("the package registry (pypi.org) is unreachable")
    report_path = Path(tempfile.mkdtemp()) / "report.json"
    cmd = [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--ignore-installed",
           "--report", str(report_path), "--python-version", python, "--only-binary=:all:",
           *[a for p in PLATFORMS for a in ("--platform", p)], *[a for c in constraints for a in ("-c", c)], str(ROOT)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    if run.returncode and "NewConnectionError" in out:
        pytest.skip("the package registry (pypi.org) is unreachable")
    report = json.loads(report_path.read_text()) if run.returncode == 0 else {"install": []}
    return run.returncode, {i["metadata"]["name"]: i["metadata"]["version"] for i in report["install"]}, out


@pytest.mark.parametrize("python", ["3.11", "3.13"])
def test_pi_constraints_resolve(python):
    code, versions, err = resolve(python, str(ROOT / "deploy" / "pi-constraints.txt"))
    assert code == 0, err[-2000:]
    major, minor = (int(p) for p in versions["numpy"].split(".")[:2])
    assert (2, 0) <= (major, minor) < (2, 3), versions["numpy"]
    assert versions["opencv-python-headless"].startswith("4.12."), versions
    print(f"\nPython {python} aarch64: numpy {versions['numpy']}, opencv-python-headless "
          f"{versions['opencv-python-headless']}, onnxruntime {versions['onnxruntime']}, "
          f"trackers {versions['trackers']}")


def test_numpy_1_cannot_resolve_beside_trackers(tmp_path):
    """Why the recipe needs HailoRT 5.1.1+: every trackers release asks numpy>=2.0.2."""
    pin = tmp_path / "numpy1.txt"
    pin.write_text("numpy<2\n")
    code, _, err = resolve("3.11", str(pin))
    assert code != 0 and "trackers" in err and "numpy>=2.0.2" in err, err[-2000:]
