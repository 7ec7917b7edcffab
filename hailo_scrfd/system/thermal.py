"""The SoC temperature: /sys/class/thermal, else the Raspberry Pi's ``vcgencmd``; None when neither answers."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

THERMAL_ROOT = Path("/sys/class/thermal")
CACHE_S = 5.0  # vcgencmd costs a process spawn; /health and /metrics may be polled often

_cache: tuple[float, float | None] | None = None
_lock = threading.Lock()


def soc_temperature_c() -> float | None:
    """Degrees Celsius, cached for a few seconds."""
    global _cache
    with _lock:
        now = time.monotonic()
        if _cache is None or now - _cache[0] > CACHE_S:
            _cache = (now, read_soc_temperature())
        return _cache[1]


def read_soc_temperature(thermal_root: Path = THERMAL_ROOT) -> float | None:
    """Degrees Celsius, read now: the SoC thermal zone, else ``vcgencmd measure_temp``."""
    value = _from_sysfs(thermal_root)
    return value if value is not None else _from_vcgencmd()


def _from_sysfs(root: Path) -> float | None:
    zones = sorted(root.glob("thermal_zone*"))
    # Prefer the CPU/SoC zone (the Pi's "cpu-thermal"); otherwise the first readable one.
    zones.sort(key=lambda z: 0 if re.search(r"cpu|soc", _read(z / "type") or "", re.I) else 1)
    for zone in zones:
        text = _read(zone / "temp")
        if text and text.lstrip("-").isdigit():
            return int(text) / 1000.0
    return None


def _from_vcgencmd() -> float | None:
    exe = shutil.which("vcgencmd")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "measure_temp"], capture_output=True, text=True, timeout=2).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"temp=([-\d.]+)", out)
    return float(match.group(1)) if match else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
