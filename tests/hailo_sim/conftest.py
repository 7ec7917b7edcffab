"""Fixtures for the Hailo backend on the simulated device (``sim/hailo_platform``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.runtime.model import SCRFDModel

from .sim_hef import build_sim_hef

SIM_DIR = Path(__file__).resolve().parent / "sim"
CALIBRATION = ["t1.jpg", "selfie.jpg", "solvay_conference_1927.png", "gauss.png", "newton.png", "s_l.jpg"]


@pytest.fixture(scope="session")
def hp():
    """The simulated hailo_platform, importable as hailo_platform from here on."""
    sys.path.insert(0, str(SIM_DIR))
    import hailo_platform
    assert Path(hailo_platform.__file__).is_relative_to(SIM_DIR), "a real hailo_platform shadows the simulation"
    return hailo_platform


@pytest.fixture(autouse=True)
def sim(hp):
    hp.SIM.reset()
    yield hp.SIM
    hp.SIM.reset()


@pytest.fixture(scope="session")
def hefs(shared, hp, tmp_path_factory, load_image):
    out = tmp_path_factory.mktemp("hef")
    calibration = [load_image(n) for n in CALIBRATION]
    return {
        "2.5g": build_sim_hef(shared / "models" / "scrfd_2.5g_bnkps.onnx", out / "scrfd_2.5g.hef", "scrfd_2_5g",
                              calibration),
        "500m": build_sim_hef(shared / "models" / "scrfd_500m_bnkps.onnx", out / "scrfd_500m.hef", "scrfd_500m",
                              calibration),
        "2.5g-16bit": build_sim_hef(shared / "models" / "scrfd_2.5g_bnkps.onnx", out / "scrfd_2.5g_a16.hef",
                                    "scrfd_2_5g", calibration, bits=16),
        "hailo8": build_sim_hef(shared / "models" / "scrfd_2.5g_bnkps.onnx", out / "scrfd_2.5g_h8.hef",
                                "scrfd_2_5g", calibration[:1], arch="hailo8"),
    }


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
