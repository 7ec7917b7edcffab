"""`hailo-scrfd upstream-check`: an active check of each instance, for an external monitor."""

import subprocess
import sys

import pytest

from support.server import ServerProcess, clean_env, free_port

pytestmark = pytest.mark.e2e


def test_upstream_check_reports_each_instance(shared):
    server = ServerProcess(shared / "models" / "scrfd_500m_bnkps.onnx")
    try:
        server.wait_ready()
        dead = f"http://127.0.0.1:{free_port()}"

        def check(*args):
            return subprocess.run([sys.executable, "-m", "hailo_scrfd", "upstream-check", *args], capture_output=True,
                                  text=True, env=clean_env(), timeout=60)

        proc = check(server.url, dead)
        lines = proc.stdout.splitlines()
        assert proc.returncode == 1 and "1/2 healthy (need 2)" in proc.stderr
        assert lines[0].startswith(f"ok   {server.url} scrfd_500m_bnkps on onnxruntime")
        assert lines[1].startswith(f"DOWN {dead} unreachable (")
        assert check(server.url, dead, "--min-healthy", "1").returncode == 0
    finally:
        server.stop()
