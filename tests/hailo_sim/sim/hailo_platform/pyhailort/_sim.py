"""The simulated machine behind the simulated ``hailo_platform``: chip mode, devices, faults, event log.

Tests set :data:`SIM` directly. A ``serve`` process under test is steered from outside
through a JSON file named by ``$HAILO_SIM_CONTROL``: its keys (``device_ids``, ``busy``,
``arch``, ``close_next_jobs``...) are applied to :data:`SIM` whenever the file changes.
``$HAILO_SIM_ARCH`` picks the chip mode at import.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field, fields

CHIPS = ("hailo10h", "hailo8")


@dataclass
class SimState:
    """The simulated machine: its chip, devices and the faults to inject next.

    ``arch`` selects the behaviour that differs between chips in HailoRT itself:

    * ``hailo10h`` (HailoRT 5.x, ``ConfiguredInferModelHrpcClient``): ``job.wait()``
      raises the job's error; ``run_async`` never raises QUEUE_IS_FULL but blocks while
      the queue is full, up to the RPC request timeout (10 s), and shuts the model down on
      any error; after ``VDevice.release()`` every call on a configured model fails with
      "Lost communication with the server" (HAILO_INTERNAL_FAILURE).
    * ``hailo8`` (``ConfiguredInferModelImpl``): ``job.wait()`` returns once the callback
      ran and the error only arrives in ``completion_info.exception``; ``run_async`` on a
      full queue raises HAILO_QUEUE_IS_FULL (82).
    """

    device_ids: list = field(default_factory=lambda: ["0000:01:00.0"])
    arch: str = field(default_factory=lambda: os.environ.get("HAILO_SIM_ARCH", "hailo10h"))
    firmware: str = "5.1.1"
    async_queue_size: int = 4
    busy: bool = False                   # another process holds the device in another scheduler group
    vdevice_wait_s: float = 5.0          # the 10H server's WAIT_FOR_VDEVICE_TIMEOUT for a UNIQUE client
    job_delay_s: float = 0.0             # how long the device takes per job beyond the computation
    callback_delay_s: float = 0.0        # how late the binding's callbacks thread runs the Python callback
    server_hung: bool = False            # the 10H's server answers nothing: every RPC takes request_timeout_s
    vdevice_error: Exception | None = None   # raised by the next VDevice()
    hang_next_jobs: int = 0              # jobs that never complete until the model is shut down
    close_next_jobs: int = 0             # jobs failing with HAILO_COMMUNICATION_CLOSED
    stall_ready: bool = False            # the pipeline takes no new frame: wait_for_async_ready blocks
    garbage_outputs: str = ""            # "zeros" or "noise": jobs succeed but every output buffer holds garbage
    request_timeout_s: float = 10.0      # the 10H RPC client's REQUEST_TIMEOUT (hrpc/client.hpp 24)
    first_call_window_s: float = 0.05    # how long the binding's lazy callback-thread creation takes
    vdevices_created: int = 0
    open_vdevices: int = 0
    jobs_completed: int = 0
    max_in_flight: int = 0
    ready_waiters: int = 0               # threads inside wait_for_async_ready now
    crashed: str | None = None           # set where the real process would have called std::terminate
    events: list = field(default_factory=list)  # "shutdown", "release", "destroyed", "lost communication"...
    lock: threading.RLock = field(default_factory=threading.RLock)
    _control_mtime: float = 0.0

    def reset(self) -> None:
        fresh = SimState()
        for f in fields(self):
            if f.name != "lock":
                setattr(self, f.name, getattr(fresh, f.name))

    def take(self, counter: str) -> bool:
        with self.lock:
            if getattr(self, counter) > 0:
                setattr(self, counter, getattr(self, counter) - 1)
                return True
            return False

    def event(self, name: str) -> None:
        with self.lock:
            self.events.append(name)

    def sync(self) -> None:
        """Apply ``$HAILO_SIM_CONTROL`` when it changed (a no-op without it)."""
        path = os.environ.get("HAILO_SIM_CONTROL")
        if not path:
            return
        try:
            mtime = os.stat(path).st_mtime_ns
            if mtime == self._control_mtime:
                return
            with open(path) as fh:
                control = json.load(fh)
        except (OSError, ValueError):
            return
        self._control_mtime = mtime
        for key, value in control.items():
            if key in {f.name for f in fields(self)} and not key.startswith("_"):
                setattr(self, key, value)


SIM = SimState()


def rpc(what: str) -> None:
    """One request to the 10H's server: with the server hung, no reply comes and the client gives up after
    REQUEST_TIMEOUT (``hrpc/client.hpp`` 24; ``Client::execute_request``), with HAILO_TIMEOUT."""
    if SIM.arch != "hailo10h" or not SIM.server_hung:
        return
    SIM.event(f"rpc timeout: {what}")
    time.sleep(SIM.request_timeout_s)
    from ._common import HailoRTTimeout
    raise HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")
