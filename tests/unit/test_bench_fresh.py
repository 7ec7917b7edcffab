"""The benchmark's fresh-install phase waits for auto to settle, whichever way it settles."""

from __future__ import annotations

from bench.fresh import settled


def test_it_waits_while_quantizing():
    assert not settled(None)
    assert not settled({"precision": "fp32", "calibration": None, "int8": "quantizing"})


def test_it_stops_on_int8_or_on_fp32_with_a_reason():
    assert settled({"precision": "int8", "calibration": "synthetic"})
    assert settled({"precision": "fp32", "calibration": None, "int8": "INT8 20.1 ms, FP32 18.0 ms per image here"})
    assert settled({"precision": "fp32", "calibration": None})  # auto_int8 off, or a decision kept from before
