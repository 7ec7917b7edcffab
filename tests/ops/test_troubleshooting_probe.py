"""Every deep-probe failure line, produced for real, is quoted in docs/troubleshooting.md.

Numbers (seconds, counts, values) vary from run to run and are compared as placeholders; the words are
compared exactly. The garbage is made from a real model's outputs; the slow device is the real ONNX
backend behind a delay.
"""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest

from hailo_scrfd.backends import Backend, create_backend
from hailo_scrfd.errors import ConfigError
from hailo_scrfd.runtime.model import SCRFDModel
from hailo_scrfd.runtime.probe import HealthProbe, ProbeImage, infer_image, load_probe_image, run_probe
from hailo_scrfd.system.sections import HealthSection
from hailo_scrfd.vision.sanity import check_outputs, synthetic_probe_image
from hailo_scrfd.vision.scrfd import StrideOutput
from support.wait import until

from ..conftest import ROOT

DOC = (ROOT / "docs" / "troubleshooting.md").read_text()
LOG = "WARNING hailo_scrfd.runtime.probe: deep health probe failed: "


def numbers_as_placeholders(text: str) -> str:
    return re.sub(r"-?\d+(\.\d+)?", "N", text)


def assert_documented(line: str) -> None:
    assert numbers_as_placeholders(line) in numbers_as_placeholders(DOC), f"not in docs/troubleshooting.md: {line}"


class Slow(Backend):
    """The real backend, answering ``delay_s`` late (a device that hangs, then recovers)."""

    def __init__(self, inner: Backend, delay_s: float):
        self.inner, self.delay_s = inner, delay_s
        self.kind, self.name, self.input_spec = inner.kind, inner.name, inner.input_spec
        self.release = threading.Event()
        self.calls = 0

    def prepare(self, canvas):
        return self.inner.prepare(canvas)

    def infer(self, tensor):
        self.calls += 1
        self.release.wait(self.delay_s)
        return self.inner.infer(tensor)

    def close(self):
        self.release.set()
        self.inner.close()


@pytest.fixture(scope="module")
def raw(model):
    return infer_image(model, synthetic_probe_image())[0]


def garbage(raw, make) -> list[StrideOutput]:
    return [StrideOutput(o.stride, *make(o), o.quant) for o in raw.outputs]


def test_garbage_lines_are_documented(raw):
    zeros = garbage(raw, lambda o: (np.zeros_like(o.scores), np.zeros_like(o.boxes), np.zeros_like(o.landmarks)))
    rng = np.random.default_rng(0)
    noise = garbage(raw, lambda o: (rng.random(o.scores.shape, dtype=np.float32), o.boxes, o.landmarks))
    bits = garbage(raw, lambda o: tuple(rng.integers(0, 256, a.nbytes, dtype=np.uint8).view(np.float32).reshape(a.shape)
                                        for a in (o.scores, o.boxes, o.landmarks)))
    for outputs in (zeros, noise, bits):
        sanity = check_outputs(outputs, raw.input_hw)
        assert not sanity.sane
        assert_documented(LOG + "the outputs are not sane: " + sanity.summary())


def test_expected_faces_line_is_documented(model, shared):
    image = load_probe_image(HealthSection(probe_image=str(shared / "images" / "t1.jpg")), 10**8)
    result = run_probe(model, image, expected_faces=5)
    assert not result["ok"]
    assert_documented(LOG + result["reason"].replace("found 6", "found 5").replace("expected 5", "expected 6"))


def test_deadline_lines_are_documented(shared):
    from hailo_scrfd.system.config import SCRFDServiceConfig

    config = SCRFDServiceConfig().override(model__path=str(shared / "models" / "scrfd_500m_bnkps.onnx"))
    model = SCRFDModel(config, backend_factory=lambda cfg, path: Slow(create_backend(cfg, path), 0.6)).load()
    try:
        probe = HealthProbe(model, HealthSection(probe_timeout_s=0.2, probe_cache_s=30), max_pixels=10**8)
        late = probe.check()
        assert not late["ok"]
        assert_documented(LOG + late["reason"])
        deadline = time.monotonic() + 10
        while probe.check()["reason"] == late["reason"] and time.monotonic() < deadline:
            time.sleep(0.05)
        took = probe.check()
        assert took["cached"] and took["sane"] and not took["ok"] and probe.runs == 1
        assert_documented(LOG + took["reason"])
    finally:
        model.close()


def test_queue_full_line_is_documented(shared):
    from hailo_scrfd.system.config import SCRFDServiceConfig

    config = SCRFDServiceConfig().override(model__path=str(shared / "models" / "scrfd_500m_bnkps.onnx"),
                                           performance__max_queue_size=1)
    slow: list[Slow] = []
    model = SCRFDModel(config, backend_factory=lambda cfg, path: slow.append(Slow(create_backend(cfg, path), 30))
                       or slow[-1]).load()
    busy = [threading.Thread(target=model.detect_faces, args=(synthetic_probe_image(),)) for _ in range(2)]
    try:
        busy[0].start()  # one running on the (one) inference thread, one waiting: the queue is full
        assert until(lambda: slow[0].calls == 1)
        busy[1].start()
        assert until(lambda: model.queue_depth == 1)
        result = run_probe(model, ProbeImage(synthetic_probe_image(), "synthetic"), None)
        assert result["reason"].startswith("the probe's inference failed: the inference queue is full")
        assert_documented(LOG + result["reason"])
    finally:
        slow[0].release.set()
        for t in busy:
            t.join(10)
        model.close()


def test_probe_image_start_up_lines_are_documented(tmp_path):
    for path, content in ((tmp_path / "probe.jpg", None), (tmp_path / "text.jpg", b"not an image")):
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(ConfigError) as info:
            load_probe_image(HealthSection(probe_image=str(path)), 10**8)
        assert_documented("hailo-scrfd: error: " + str(info.value).replace(str(path), "/etc/hailo/probe.jpg"))
    assert isinstance(load_probe_image(HealthSection(), 10**8), ProbeImage)
