"""Who holds the simulated device, across processes, and HailoRT's rules for sharing it (scheduler groups).

Every open VDevice is a file ``<pid>-<n>.json`` (``{"group": ...}``) in ``$HAILO_SIM_REGISTRY`` (a folder
that every process of one test shares; without it, a private folder of this process). A holder whose
process died is ignored, as the driver frees a dead process's device. ``SIM.busy`` adds a holder from
"another process" in a group of its own.

The rules, from HailoRT 5.1.1:

* Hailo-10H (every VDevice is an RPC client of ``hailort_server``): ``VDeviceManager::create_vdevice``
  (``hailort/hailort_server/hailort_server.cpp`` 54-92). A ``UNIQUE`` client (``HAILO_DEFAULT_VDEVICE_GROUP_ID``,
  ``hailort.h`` 71-72) waits up to ``WAIT_FOR_VDEVICE_TIMEOUT`` (5 s) for no active client, then fails
  HAILO_DEVICE_IN_USE; a client of the active group shares the device; a client of another group fails at once
  (``VDevice::create`` finds the device used: OUT_OF_PHYSICAL_DEVICES, reported as DEVICE_IN_USE). The client
  turns DEVICE_IN_USE into HAILO_OUT_OF_PHYSICAL_DEVICES when no device was named
  (``vdevice_hrpc_client.cpp`` 60-71).
* Hailo-8 without the multi-process service: ``VDeviceHandle::create`` shares a VDevice by group only inside
  one process (``SharedResourceManager``, ``vdevice.cpp`` 120-126; ``UNIQUE`` never shares); another process
  finds the device marked used (``mark_as_used``, ``vdevice.cpp`` 539) and fails at once.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import time

from ._sim import SIM

UNIQUE = "UNIQUE"
_COUNTER = itertools.count()
_PRIVATE: list[str] = []


def _folder() -> str:
    path = os.environ.get("HAILO_SIM_REGISTRY")
    if path:
        return path
    if not _PRIVATE:
        _PRIVATE.append(tempfile.mkdtemp(prefix="hailo-sim-registry-"))
    return _PRIVATE[0]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holders() -> list[tuple[int, str]]:
    """(pid, group) of every open VDevice on the device, this process's included."""
    found = []
    for name in os.listdir(_folder()):
        try:
            pid = int(name.split("-", 1)[0])
            with open(os.path.join(_folder(), name)) as fh:
                group = json.load(fh)["group"]
        except (OSError, ValueError, KeyError):
            continue
        if _alive(pid):
            found.append((pid, group))
    if SIM.busy:
        found.append((-1, "another process's group"))
    return found


def register(group: str) -> str:
    key = f"{os.getpid()}-{next(_COUNTER)}.json"
    with open(os.path.join(_folder(), key), "w") as fh:
        json.dump({"group": group}, fh)
    return key


def unregister(key: str) -> None:
    try:
        os.remove(os.path.join(_folder(), key))
    except FileNotFoundError:
        pass


def may_open(group: str) -> bool:
    """Whether a VDevice of ``group`` gets the device now, waiting as HailoRT does (the 10H's UNIQUE wait)."""
    if SIM.arch == "hailo10h":
        if group == UNIQUE:
            deadline = time.monotonic() + SIM.vdevice_wait_s
            while holders():
                if time.monotonic() >= deadline:
                    return False
                time.sleep(min(0.01, SIM.vdevice_wait_s))
            return True
        return all(g == group for _, g in holders())
    me = os.getpid()
    return all(pid == me and g == group != UNIQUE for pid, g in holders())
