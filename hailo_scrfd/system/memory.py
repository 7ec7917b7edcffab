"""How much memory the service may spend on images: its cgroup's limit (systemd's ``MemoryMax=``), if any."""

from __future__ import annotations

import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
UNLIMITED = 2**60  # cgroup v1 writes "no limit" as a number near 2**63


def cgroup_memory_max(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> int | None:
    """The tightest memory limit (bytes) on this process's cgroup and its parents, v2 (``memory.max``, as
    systemd sets it) or v1 (``memory.limit_in_bytes``); None when there is none."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and not controllers:
            base = root if (root / "cgroup.controllers").exists() else root / "unified"
            limits += _limits_up(base, path, "memory.max")
        elif "memory" in controllers.split(","):
            limits += _limits_up(root / "memory", path, "memory.limit_in_bytes")
    return min(limits) if limits else None


def _limits_up(base: Path, path: str, name: str) -> list[int]:
    """The limits in file ``name`` from the cgroup at ``path`` up to ``base``."""
    found, here = [], base / path.strip().lstrip("/")
    while True:
        try:
            text = (here / name).read_text().strip()
        except OSError:
            text = ""
        if text.isdigit() and int(text) < UNLIMITED:
            found.append(int(text))
        if here == base or base not in here.parents:
            return found
        here = here.parent


def resident_bytes() -> int:
    """This process's resident memory now."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
