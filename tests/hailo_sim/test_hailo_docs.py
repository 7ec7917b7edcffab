"""The Hailo lines added for issue 15 are quoted, word for word, in docs/troubleshooting.md."""

from __future__ import annotations

import pytest

from hailo_scrfd.backends.hailo import explain
from hailo_scrfd.errors import ModelLoadError

from ..conftest import ROOT
from .test_hailo_fidelity import load

DOC = (ROOT / "docs" / "troubleshooting.md").read_text()


def documented(message: str, path: str) -> bool:
    return f"hailo-scrfd: error: {message.replace(path, '/path/model.hef')}" in DOC


@pytest.mark.parametrize("status", ["91 (HAILO_HEF_FILE_CORRUPTED)", "92 (HAILO_HEF_NOT_SUPPORTED)",
                                    "73 (HAILO_DEVICE_IN_USE)"])
def test_status_lines_are_documented(status):
    exc = type("HailoRTException", (Exception,), {})(f"libhailort failed with error: {status}")
    assert documented(explain(exc, "/x/y.hef"), "/x/y.hef")


def test_nms_line_is_documented(hefs):
    with pytest.raises(ModelLoadError) as info:
        load(hefs["2.5g-nms"])
    assert documented(str(info.value), str(hefs["2.5g-nms"]))
