"""Schemathesis 4's own CLI with ``--checks all`` against a live server: the OpenAPI document states the real
contract (every schema-valid request is accepted, every invalid one rejected, every answer documented)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.server import ServerProcess

from ..conftest import DEFAULT_MODEL, ROOT

pytestmark = pytest.mark.e2e


def test_schemathesis_checks_all_pass(shared, tmp_path):
    cli = Path(sys.executable).parent / "schemathesis"
    server = ServerProcess(shared / "models" / DEFAULT_MODEL)
    try:
        server.wait_ready()
        # cwd=ROOT: schemathesis reads the project's schemathesis.toml (why 422 is an accepted answer).
        proc = subprocess.run([str(cli), "run", f"{server.url}/openapi.json", "--checks", "all",
                               "--max-examples", "40", "--seed", "1", "--no-color"],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "passed" in proc.stdout and "failed" not in proc.stdout.split("SUMMARY")[-1]
