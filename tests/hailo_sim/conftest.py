"""Fixtures for the Hailo backend on the simulated device (``sim/hailo_platform``), in both chip modes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.runtime.model import SCRFDModel

from .sim_hef import arch_variant, build_sim_hef, calibrate, nms_variant

SIM_DIR = Path(__file__).resolve().parent / "sim"
CALIBRATION = ["t1.jpg", "selfie.jpg", "solvay_conference_1927.png", "gauss.png", "newton.png", "s_l.jpg"]
CHIPS = ("hailo10h", "hailo8")


@pytest.fixture(scope="session")
def hp():
    """The simulated hailo_platform, importable as hailo_platform from here on."""
    sys.path.insert(0, str(SIM_DIR))
    import hailo_platform
    assert Path(hailo_platform.__file__).is_relative_to(SIM_DIR), "a real hailo_platform shadows the simulation"
    return hailo_platform


@pytest.fixture(params=CHIPS)
def chip(request) -> str:
    """The simulated chip: every test here runs on a Hailo-10H and on a Hailo-8 (their HailoRT paths differ)."""
    return request.param


@pytest.fixture(autouse=True)
def sim(hp, chip):
    hp.SIM.reset()
    hp.SIM.arch = chip
    yield hp.SIM
    crashed = hp.SIM.crashed
    hp.SIM.reset()
    assert crashed is None, f"the real process would have died: {crashed}"


@pytest.fixture(scope="session")
def hef_sets(shared, hp, tmp_path_factory, load_image):
    """Simulated HEFs per chip: {chip: {variant: path}}."""
    out = tmp_path_factory.mktemp("hef")
    models = shared / "models"
    calibration = [load_image(n) for n in CALIBRATION]
    r25, r500 = calibrate(models / "scrfd_2.5g_bnkps.onnx", calibration), calibrate(models / "scrfd_500m_bnkps.onnx",
                                                                                    calibration)
    base = {
        "2.5g": build_sim_hef(models / "scrfd_2.5g_bnkps.onnx", out / "scrfd_2.5g.hef", "scrfd_2_5g", [], ranges=r25),
        "500m": build_sim_hef(models / "scrfd_500m_bnkps.onnx", out / "scrfd_500m.hef", "scrfd_500m", [],
                              ranges=r500),
        "2.5g-16bit": build_sim_hef(models / "scrfd_2.5g_bnkps.onnx", out / "scrfd_2.5g_a16.hef", "scrfd_2_5g", [],
                                    bits=16, ranges=r25),
        "2.5g-per-channel": build_sim_hef(models / "scrfd_2.5g_bnkps.onnx", out / "scrfd_2.5g_pc.hef", "scrfd_2_5g",
                                          [], per_channel=True, ranges=r25),
    }
    base["2.5g-nms"] = nms_variant(base["2.5g"], out / "scrfd_2.5g_nms.hef")
    sets = {}
    for chip in CHIPS:
        (out / chip).mkdir()
        sets[chip] = {name: arch_variant(path, out / chip / path.name, chip) for name, path in base.items()}
        other = "hailo8" if chip == "hailo10h" else "hailo10h"
        sets[chip]["other-chip"] = arch_variant(base["2.5g"], out / chip / "scrfd_2.5g_other_chip.hef", other)
    return sets


@pytest.fixture
def hefs(hef_sets, chip):
    """This chip's simulated HEFs by variant, plus ``other-chip``: one compiled for the other chip."""
    return hef_sets[chip]


@pytest.fixture
def hailo_model(hefs):
    """Loaded SCRFDModel on the simulated device; closed after the test."""
    models = []

    def make(variant: str = "2.5g", **overrides) -> SCRFDModel:
        config = SCRFDServiceConfig().override(model__path=str(hefs[variant]), **overrides)
        model = SCRFDModel(config).load()
        models.append(model)
        return model

    yield make
    for m in models:
        m.close()
