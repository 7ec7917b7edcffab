"""The one recovery back-off, and model.fallback's policy (which engine answers), without a device."""

from __future__ import annotations

import threading
import time

import pytest

from hailo_scrfd.backends import InputSpec
from hailo_scrfd.errors import ModelNotReady, QueueFull
from hailo_scrfd.runtime.fallback import FallbackPolicy
from hailo_scrfd.runtime.recovery import Engine, reopen, retry_delay


def test_one_back_off_quick_retries_then_steady():
    assert [retry_delay(i) for i in range(7)] == [0.2, 0.5, 1.0, 2.0, 5.0, 5.0, 5.0]
    # the NPU under model.fallback: hailo.probe_interval_s is the steady pace, and caps the quick retries too
    assert [retry_delay(i, 0.3) for i in range(5)] == [0.2, 0.3, 0.3, 0.3, 0.3]
    assert [retry_delay(i, 60.0) for i in range(6)] == [0.2, 0.5, 1.0, 2.0, 60.0, 60.0]


def test_reopen_retries_until_it_opens_and_stops_when_closed():
    tries, told = [], []

    def flaky():
        tries.append(1)
        if len(tries) < 3:
            raise RuntimeError("busy")
        return "worker"

    engine = Engine("primary", flaky, steady_s=0.01)
    assert reopen(engine, threading.Event(), lambda exc, delay: told.append((str(exc), delay))) == "worker"
    assert told == [("busy", 0.01), ("busy", 0.01)]
    closed = threading.Event()
    closed.set()
    assert reopen(Engine("primary", flaky), closed, lambda *_: None) is None


def test_policy_waits_for_the_npu_then_switches_and_counts():
    policy = FallbackPolicy(0.2, InputSpec(640, 640), 32)
    policy.restored()  # opened at start
    assert policy.use_npu(time.monotonic() + 1) is True
    policy.lost("gone")
    assert policy.status() == {"active": False, "reason": "gone", "seconds_total": 0.0, "switches": 0}
    assert policy.use_npu(time.monotonic() + 0.05) is None  # neither engine within this deadline
    start = time.monotonic()
    assert policy.use_npu(time.monotonic() + 5) is False and time.monotonic() - start < 1.0
    assert policy.active and policy.status()["switches"] == 1
    policy.retrying(RuntimeError("still busy"))
    assert "still busy" in policy.status()["reason"]
    time.sleep(0.05)
    policy.restored()
    status = policy.status()
    assert not status["active"] and status["reason"] == "" and status["seconds_total"] > 0 and status["switches"] == 1


def test_policy_at_start_serves_on_the_cpu_at_once_and_close_wakes_waiters():
    policy = FallbackPolicy(30.0, InputSpec(640, 640), 32)
    policy.lost("no Hailo device found", at_start=True)
    assert policy.use_npu(time.monotonic() + 1) is False and policy.status()["switches"] == 1
    policy = FallbackPolicy(30.0, InputSpec(640, 640), 32)
    policy.lost("gone")
    threading.Timer(0.05, policy.close).start()
    with pytest.raises(ModelNotReady):
        policy.use_npu(time.monotonic() + 10)


def test_calls_waiting_for_a_lost_npu_are_held_to_the_queue_size():
    policy = FallbackPolicy(30.0, InputSpec(640, 640), 2)
    policy.restored()
    policy.lost("gone")
    answers: list = []
    waiters = [threading.Thread(target=lambda: answers.append(policy.use_npu(time.monotonic() + 10)))
               for _ in range(2)]
    for t in waiters:
        t.start()
    deadline = time.monotonic() + 5
    while policy.waiting < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert policy.waiting == 2
    start = time.monotonic()
    with pytest.raises(QueueFull, match="2 waiting for the Hailo device"):
        policy.use_npu(time.monotonic() + 10)
    assert time.monotonic() - start < 1.0  # at once, not after fallback_after_s
    policy.restored()
    for t in waiters:
        t.join(5)
    assert answers == [True, True] and policy.waiting == 0
