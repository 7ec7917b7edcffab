"""Issue 27, "ready for a real Raspberry Pi 5": NumPy 2 against an old binding, device groups, teardown of a
hung Hailo-10H, AsyncInferJob.wait's double timeout and the outputs' order, on the simulated HailoRT."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from hailo_scrfd.backends import hailo as hailo_mod
from hailo_scrfd.backends.hailo import HailoBackend
from hailo_scrfd.backends.hailo_compat import numpy_verdict
from hailo_scrfd.backends.hailo_info import describe_hef
from hailo_scrfd.errors import ModelLoadError
from hailo_scrfd.system.sections import HailoSection

from support.server import ServerProcess, clean_env
from support.wait import until
from .conftest import SIM_DIR


def test_numpy_verdict_by_binding_version():
    assert numpy_verdict("5.1.1", "2.2.6")[0] and numpy_verdict("5.2.0", "2.4.0")[0]
    assert numpy_verdict("5.1.0", "1.26.4")[0] and numpy_verdict("4.23.0", "1.24.2")[0]
    works, line = numpy_verdict("5.1.0", "2.2.6")
    assert not works and "predates NumPy 2" in line and "\n" not in line
    assert not numpy_verdict("4.23.0", "2.0.2")[0] and not numpy_verdict("5.0.0", "2.1.0")[0]


def test_an_old_binding_beside_numpy_2_is_refused_with_one_line(hp, hefs, monkeypatch, sim):
    """Mutation tried: check_numpy removed from HailoBackend.__init__: the simulated binding reads the NumPy 2
    output buffers with NumPy 1's layout (SimulatedProcessAbort; the fixture reports the crash)."""
    assert int(np.__version__.split(".")[0]) >= 2  # this venv runs NumPy 2, as opencv's wheels pull it
    monkeypatch.setattr(hp, "__version__", "5.1.0")
    with pytest.raises(ModelLoadError, match=r"HailoRT 5\.1\.0's Python binding predates NumPy 2") as info:
        HailoBackend(str(hefs["2.5g"]), HailoSection())
    assert "\n" not in str(info.value) and sim.open_vdevices == 0
    assert describe_hef(str(hefs["2.5g"]))[1].startswith("numpy: FAILS: HailoRT 5.1.0's Python binding")


def test_outputs_in_hardware_order_are_refused(hefs, monkeypatch, sim):
    """Mutation tried: refuse_hardware_order removed: the NHCW bytes load, the warm-up passes and the
    detections are garbage (the load did not fail)."""
    monkeypatch.setenv("HAILO_DISABLE_PP", "1")
    with pytest.raises(ModelLoadError, match="comes in NHCW order, not NHWC") as info:
        HailoBackend(str(hefs["2.5g"]), HailoSection())
    assert "\n" not in str(info.value) and sim.open_vdevices == 0


def test_npu_timeout_keeps_a_request_within_its_budget(hefs, chip, sim):
    """job.wait(t) waits for the job, then its callback, t each. Mutation tried: job.wait(timeout_ms) with the
    whole budget (the old code): a job done late whose callback is slow takes 1.5 budgets or more."""
    backend = HailoBackend(str(hefs["2.5g"]), HailoSection(), timeout_s=1.0)
    try:
        sim.callback_delay_s, sim.job_delay_s = 0.9, 0.6
        start = time.monotonic()
        try:
            backend.infer(np.zeros((640, 640, 3), np.uint8))
        except Exception:
            pass
        took = time.monotonic() - start
    finally:
        backend.close()
    print(f"\n[{chip}] one request with a 1.0 s budget, job 0.6 s late and its callback 0.9 s slow: {took:.2f} s")
    assert took < 1.3


class TestGroups:
    def test_a_unique_client_waits_then_fails_busy_on_a_10h(self, hp, chip, sim):
        sim.vdevice_wait_s = 1.0
        params = hp.VDevice.create_params()
        params.group_id = "SHARED"
        service = hp.VDevice(params)
        try:
            start = time.monotonic()
            with pytest.raises(hp.HailoRTException, match="74"):
                hp.VDevice(hp.VDevice.create_params())  # UNIQUE, the default
            took = time.monotonic() - start
            assert (took >= 1.0) if chip == "hailo10h" else (took < 0.5)
            other = hp.VDevice(params)  # the same group: shared on a 10H, and within one process on a Hailo-8
            other.release()
        finally:
            service.release()
        hp.VDevice(hp.VDevice.create_params()).release()  # free again

    def test_the_busy_advice_is_per_chip(self, hefs, chip, sim):
        sim.busy, sim.vdevice_wait_s = True, 0.05
        with pytest.raises(ModelLoadError) as info:
            HailoBackend(str(hefs["2.5g"]), HailoSection())
        if chip == "hailo8":
            assert "a Hailo-8 serves one process at a time whatever hailo.group_id says" in str(info.value)
        else:
            assert "stop it, or give both processes the same hailo.group_id, not UNIQUE" in str(info.value)

    def test_check_hef_beside_a_running_service_answers_at_once(self, hefs, chip, tmp_path, monkeypatch):
        """Mutation tried: describe_hef's VDevice back in UNIQUE: on a 10H it waits the server's 5 s, then
        reports busy (5.0 s > 2.5 s)."""
        if chip != "hailo10h":
            pytest.skip("a Hailo-8 without the multi-process service never shares a device across processes")
        monkeypatch.setenv("HAILO_SIM_REGISTRY", str(tmp_path))
        env = clean_env(PYTHONPATH=str(SIM_DIR), HAILO_SIM_ARCH=chip, HAILO_SIM_REGISTRY=str(tmp_path))
        srv = ServerProcess(hefs["2.5g"], env=env)
        try:
            srv.wait_ready(120)
            start = time.monotonic()
            lines = describe_hef(str(hefs["2.5g"]), HailoSection().group_id)
            took = time.monotonic() - start
            run = subprocess.run([sys.executable, "-m", "hailo_scrfd", "check", "--hef", str(hefs["2.5g"])],
                                 capture_output=True, text=True, env=env, timeout=120)
        finally:
            assert srv.stop() == 0, srv.log()
        print(f"\n[{chip}] check --hef beside the running service: {took:.3f} s")
        assert took < 2.5 and lines[-1] == "async queue size: 4", lines  # far below the busy wait's 5 s
        assert run.returncode == 0 and "async queue size: 4" in run.stdout, run.stdout + run.stderr


class TestHungTenH:
    RPC_S = 0.1  # HailoRT's 10 s RPC timeout, scaled by 1/100

    def test_teardown_is_bounded(self, hefs, chip, sim, monkeypatch):
        """Mutation tried: close() running _teardown inline (no budget): 4 RPC timeouts (~40 s real)."""
        if chip != "hailo10h":
            pytest.skip("RPC timeouts are the Hailo-10H's")
        scale = 10.0 / self.RPC_S
        monkeypatch.setattr(hailo_mod, "CLOSE_BUDGET_S", hailo_mod.CLOSE_BUDGET_S / scale)
        monkeypatch.setattr(hailo_mod, "CLOSE_GRACE_S", hailo_mod.CLOSE_GRACE_S / scale)
        sim.request_timeout_s = self.RPC_S
        timings = {}
        for name, bounded in (("unbounded", False), ("bounded", True)):
            backend = HailoBackend(str(hefs["2.5g"]), HailoSection())
            sim.server_hung = True
            start = time.monotonic()
            if bounded:
                backend.close()
            else:
                backend._teardown(backend._configured, backend._vdevice)
                backend._configured = backend._vdevice = None
            timings[name] = (time.monotonic() - start) * scale
            sim.server_hung = False
            time.sleep(2 * self.RPC_S * 4)  # let the background teardown finish before the next round
        print(f"\n[{chip}] teardown of a hung 10H (real-time equivalents): unbounded {timings['unbounded']:.1f} s, "
              f"bounded {timings['bounded']:.1f} s; events {[e for e in sim.events if e.startswith('rpc')]}")
        # 3 RPC timeouts, the 4th in the destructor; bounded: the close budget (12 s), plus room for a thread's
        # wake-up on a loaded machine (2 s here is 20 ms real)
        assert timings["unbounded"] >= 29 and timings["bounded"] <= 15

    def test_a_waiting_thread_is_not_woken_by_shutdown_on_a_10h(self, hp, hefs, chip, sim):
        """The simulation: shutdown() wakes a wait_for_async_ready on a Hailo-8 only."""
        vdevice = hp.VDevice(hp.VDevice.create_params())
        model = vdevice.create_infer_model(str(hefs["2.5g"]))
        configured = model.configure()
        sim.stall_ready = True
        outcome = {}
        waiting = threading.Event()

        def wait():
            waiting.set()
            start = time.monotonic()
            try:
                configured.wait_for_async_ready(timeout_ms=600)
            except Exception as exc:
                outcome["error"] = type(exc).__name__
            outcome["s"] = time.monotonic() - start

        thread = threading.Thread(target=wait)
        thread.start()
        waiting.wait(5)
        assert until(lambda: sim.ready_waiters > 0, interval_s=0.005)
        configured.shutdown()
        thread.join(5)
        vdevice.release()
        if chip == "hailo10h":
            assert outcome["s"] >= 0.55 and outcome["error"] == "HailoRTTimeout", outcome
        else:
            assert outcome["s"] < 0.5, outcome
