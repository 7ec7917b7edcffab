"""A stand-in for ``systemctl`` that scripts/rolling-restart.sh drives in tests (SYSTEMCTL=...).

    fake_systemctl.py start|restart hailo-scrfd@N.service
    fake_systemctl.py list-units ...          the instances started, as systemctl lists them

State lives in ``$FAKE_SYSTEMD_DIR``: ``serve.json`` ({"argv": [...], "base_port": P}) says how to start instance
N (``argv`` plus ``--port P+N``); ``N.pid`` is its process, ``N-K.log`` the output of its K-th run. ``restart``
sends SIGTERM (as systemd does), waits for the process to end, and starts the next run, without waiting for
it to be ready (the script waits on /health). Processes start in a session of their own and outlive this one;
``stop_all`` ends them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie no one reaps counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def terminate(pid: int, timeout_s: float = 60) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while not gone(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.05)


def start(state: Path, n: int) -> None:
    spec = json.loads((state / "serve.json").read_text())
    runs = len(list(state.glob(f"{n}-*.log")))
    with open(state / f"{n}-{runs}.log", "w") as out:
        proc = subprocess.Popen([*spec["argv"], "--port", str(spec["base_port"] + n)], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    (state / f"{n}.pid").write_text(str(proc.pid))


def stop_all(state: Path) -> None:
    for pidfile in state.glob("*.pid"):
        terminate(int(pidfile.read_text()), timeout_s=30)


def main(argv: list[str]) -> int:
    state = Path(os.environ["FAKE_SYSTEMD_DIR"])
    if argv[0] == "list-units":
        for pidfile in sorted(state.glob("*.pid")):
            if not gone(int(pidfile.read_text())):
                print(f"hailo-scrfd@{pidfile.stem}.service loaded active running fake")
        return 0
    match = re.fullmatch(r"hailo-scrfd@(\d+)\.service", argv[1])
    if argv[0] not in ("start", "restart") or not match:
        print(f"fake systemctl: cannot {' '.join(argv)}", file=sys.stderr)
        return 1
    n = int(match.group(1))
    pidfile = state / f"{n}.pid"
    if argv[0] == "restart" and pidfile.exists():
        terminate(int(pidfile.read_text()))
    start(state, n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
