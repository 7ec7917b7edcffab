"""`check --hef` lines, and the default HEF search, on the simulated device."""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import pytest

from hailo_scrfd.backends.hailo_info import describe_hef
from hailo_scrfd.system.models import DEFAULT_HEFS, find_default_hef
from hailo_scrfd.errors import ModelLoadError

from support.server import clean_env
from .conftest import SIM_DIR


def test_describe_hef(hefs, chip):
    lines = describe_hef(str(hefs["2.5g"]))
    assert lines[0] == "hailort: 5.1.1" and lines[2].endswith("(network scrfd_2_5g)")
    assert lines[1].startswith("numpy: NumPy ") and lines[1].endswith(": ok (its binding's pybind11 2.13.6 supports "
                                                                      "NumPy 2)")
    assert lines[-2].startswith("vdevice group: UNIQUE ")
    assert "input: scrfd_2_5g/input_layer1 UINT8, NHWC(640x640x3)" in lines
    outputs = [line for line in lines if line.startswith("output: ")]
    assert len(outputs) == 9 and all("quant per-tensor scale=" in line for line in outputs)
    assert any(line.startswith("output: scrfd_2_5g/conv42 UINT8, NHWC(80x80x2), ") for line in outputs)
    assert f"device: 0000:01:00.0 {chip.upper()} firmware 5.1.1 (release,app)" in lines
    assert lines[-1] == "async queue size: 4"


def test_describe_per_channel_and_nms(hefs, sim):
    lines = describe_hef(str(hefs["2.5g-per-channel"]))
    assert sum("quant per-channel (20 scales)" in line for line in lines) == 3
    assert "output: scrfd_2_5g/nms_postprocess FLOAT32, HAILO_NMS_BY_SCORE(no shape: on-chip NMS), " \
           "quant per-tensor scale=1 zero_point=0" in describe_hef(str(hefs["2.5g-nms"]))
    assert sim.open_vdevices == 0 and "destroyed after release" not in sim.events


def test_describe_without_a_device_or_while_busy(hefs, sim):
    sim.busy = True
    assert describe_hef(str(hefs["2.5g"]))[-1].startswith("async queue size: unknown (the Hailo device is busy")
    sim.device_ids = []
    assert describe_hef(str(hefs["2.5g"]))[-1].startswith("device: none found")


def test_describe_a_bad_hef_is_one_line(tmp_path):
    bad = tmp_path / "x.hef"
    bad.write_bytes(b"\0" * 16)
    with pytest.raises(ModelLoadError, match="is not a HEF this HailoRT supports"):
        describe_hef(str(bad))


def test_cli_check_hef(hefs, chip):
    env = clean_env(PYTHONPATH=str(SIM_DIR), HAILO_SIM_ARCH=chip)
    run = subprocess.run([sys.executable, "-m", "hailo_scrfd", "check", "--hef", str(hefs["2.5g"])],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    described = describe_hef(str(hefs["2.5g"]), "SHARED")  # the service's group
    lines = run.stdout.splitlines()
    assert lines[:len(described)] == described
    # Then the driver, the SoC's temperature and one timed inference on the simulated device.
    assert [line.split(":")[0] for line in lines[len(described):]] == ["driver", "soc temperature", "one inference"]
    assert re.fullmatch(r"one inference: [0-9.]+ ms on .+", lines[-1]), lines[-1]
    run = subprocess.run([sys.executable, "-m", "hailo_scrfd", "check", "--hef", str(hefs["2.5g-nms"])],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0 and "HAILO_NMS_BY_SCORE" in run.stdout


def test_default_hef_search_order(tmp_path, caplog):
    candidates = tuple(tmp_path / p.relative_to(p.parents[1]) for p in DEFAULT_HEFS)
    assert find_default_hef(candidates) is None
    ten_g = tmp_path / "hailo10h" / "scrfd_10g.hef"  # what hailo-apps installs for a Hailo-10H
    ten_g.parent.mkdir()
    ten_g.write_bytes(b"x")
    (tmp_path / "hailo8").mkdir()
    (tmp_path / "hailo8" / "scrfd_2.5g.hef").write_bytes(b"x")
    with caplog.at_level(logging.INFO, logger="hailo_scrfd"):
        assert find_default_hef(candidates) == str(ten_g)
    assert str(ten_g) in caplog.text
    two_five = tmp_path / "hailo10h" / "scrfd_2.5g.hef"
    two_five.write_bytes(b"x")
    assert find_default_hef(candidates) == str(two_five)
    assert [p.name for p in DEFAULT_HEFS[:3]] == ["scrfd_2.5g.hef", "scrfd_10g.hef", "scrfd_500m.hef"]
    assert str(DEFAULT_HEFS[0]) == "/usr/local/hailo/resources/models/hailo10h/scrfd_2.5g.hef"
