"""The memory budget: the cgroup's limit read as systemd sets it (v2) or as cgroup v1 writes it, the budget
derived from it, and admission: fit, wait in a bounded line, refuse with 503."""

from __future__ import annotations

import threading

import pytest

from hailo_scrfd.errors import QueueFull
from hailo_scrfd.pipeline.budget import MemoryBudget, budget_bytes, image_bytes
from hailo_scrfd.system.memory import cgroup_memory_max

GIB = 2**30


def fake_v2(tmp_path, limits):
    """A cgroup v2 tree /a/b with ``limits`` ({relative path: memory.max text}) and this process in /a/b."""
    root = tmp_path / "cgroup"
    (root / "a" / "b").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("memory\n")
    for rel, text in limits.items():
        (root / rel / "memory.max").write_text(text)
    proc = tmp_path / "proc-cgroup"
    proc.write_text("0::/a/b\n")
    return root, proc


def test_v2_limit_is_the_tightest_on_the_way_up(tmp_path):
    root, proc = fake_v2(tmp_path, {"a/b": "max\n", "a": f"{2 * GIB}\n"})
    assert cgroup_memory_max(root, proc) == 2 * GIB
    root, proc = fake_v2(tmp_path / "x", {"a/b": f"{GIB}\n", "a": f"{2 * GIB}\n"})
    assert cgroup_memory_max(root, proc) == GIB
    root, proc = fake_v2(tmp_path / "y", {"a/b": "max\n"})
    assert cgroup_memory_max(root, proc) is None


def test_v1_limit_and_its_no_limit_value(tmp_path):
    root = tmp_path / "cgroup"
    group = root / "memory" / "svc"
    group.mkdir(parents=True)
    (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (group / "memory.limit_in_bytes").write_text(f"{3 * GIB}\n")
    proc = tmp_path / "proc-cgroup"
    proc.write_text("4:memory:/svc\n0::/\n")
    assert cgroup_memory_max(root, proc) == 3 * GIB
    (group / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert cgroup_memory_max(root, proc) is None
    assert cgroup_memory_max(root, tmp_path / "absent") is None


def test_the_budget_comes_from_the_setting_else_the_limit_else_the_machine():
    assert budget_bytes(512, limit=2 * GIB, resident=GIB // 4) == 512 * 2**20
    assert budget_bytes(0, limit=2 * GIB, resident=GIB // 4) == int((2 * GIB - GIB // 4) * 0.8)
    assert budget_bytes(0, limit=None, resident=GIB // 4, total=8 * GIB) == int((4 * GIB - GIB // 4) * 0.8)
    assert budget_bytes(0, limit=GIB // 8, resident=GIB // 4) == 64 * 2**20  # never nothing


def test_an_image_costs_its_body_and_its_decode(shared):
    data = (shared / "images" / "t1.jpg").read_bytes()  # 1280x886
    assert image_bytes(data) == len(data) + int(1280 * 886 * 3 * 1.1)
    assert image_bytes(data, long_side=640) == len(data) + int(640 * 443 * 3 * 1.1)  # DCT-reduced
    png = (shared / "images" / "gauss.png").read_bytes()  # 1024x1305
    assert image_bytes(png) == len(png) + int(1024 * 1305 * 3 * 4.75)
    assert image_bytes(b"not an image") == len(b"not an image")


def test_what_fits_runs_what_does_not_waits_then_runs():
    budget = MemoryBudget(100, max_waiting=2, wait_s=30)
    entered, release = threading.Event(), threading.Event()
    with budget.reserve(60):
        with budget.reserve(40):
            assert budget.in_use == 100

        def late():
            with budget.reserve(50):
                entered.set()
                release.wait(10)

        thread = threading.Thread(target=late)
        thread.start()
        for _ in range(10000):  # until the late request is in line (at most 10 s)
            if budget.waiting == 1:
                break
            threading.Event().wait(0.001)
        assert budget.waiting == 1
        assert not entered.is_set()
    assert entered.wait(10)  # room was made: it ran
    release.set()
    thread.join(10)
    assert budget.in_use == 0 and budget.peak == 100 and budget.refused == 0


def test_a_full_line_and_a_timeout_are_refused_with_retry_after():
    budget = MemoryBudget(100, max_waiting=0, wait_s=30)
    with budget.reserve(100):
        with pytest.raises(QueueFull) as caught:
            with budget.reserve(1):
                pass
    assert caught.value.headers["Retry-After"] and budget.refused == 1
    budget = MemoryBudget(100, max_waiting=4, wait_s=0)
    with budget.reserve(100), pytest.raises(QueueFull):
        with budget.reserve(1):
            pass
    assert budget.waiting == 0 and budget.in_use == 0


def test_a_request_larger_than_the_budget_runs_alone():
    budget = MemoryBudget(100, max_waiting=1, wait_s=0)
    with budget.reserve(500):
        assert budget.in_use == 500
        with pytest.raises(QueueFull):
            with budget.reserve(1):
                pass
    assert budget.status() == {"capacity_mb": 0.0, "in_use_mb": 0.0, "peak_mb": 0.0, "waiting": 0, "refused": 1}
