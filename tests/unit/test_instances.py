"""`serve --instance N`: port server.port + N, ONNX threads from the CPU affinity (a CPUAffinity= drop-in)."""

import os
import shutil
import subprocess
import sys

import pytest

from hailo_scrfd.system.instances import instance_overrides


def test_port_and_threads():
    cores = len(os.sched_getaffinity(0))
    assert instance_overrides(5001, 0, 1) == {"server__port": 5002, "onnx__threads": cores}
    assert instance_overrides(5001, 3, 3) == {"server__port": 5004}  # an explicit thread count is kept
    for bad in (0, 65):
        with pytest.raises(ValueError, match="--instance must be 1 to 64"):
            instance_overrides(5001, 0, bad)
    with pytest.raises(ValueError, match="above 65535"):
        instance_overrides(65535, 0, 1)


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) is not installed")
def test_threads_follow_a_restricted_affinity():
    code = "from hailo_scrfd.system.instances import instance_overrides as f; print(f(5001, 0, 2))"
    out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "{'server__port': 5003, 'onnx__threads': 1}"
