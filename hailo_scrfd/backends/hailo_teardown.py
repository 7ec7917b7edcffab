"""A teardown with a time budget: what HailoRT does not finish in time goes on in the background."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


def close_within(budget_s: float, teardown: Callable[[], None]) -> bool:
    """Run ``teardown`` on a daemon thread and wait for it up to ``budget_s``; True when it finished.

    A Hailo-10H that no longer answers makes each teardown request wait HailoRT's 10 s RPC timeout
    (shutdown, the model's destructor, the infer model's and the VDevice's: about 40 s). Past the budget
    the thread keeps going (or ends with the process) and the caller moves on: a stop stays within
    systemd's TimeoutStopSec, a recovery opens the device again sooner. Exceptions are logged, not raised.
    """
    done = threading.Event()
    start = time.monotonic()

    def run() -> None:
        try:
            teardown()
        except Exception as exc:  # a lost device may not close cleanly
            log.warning("closing the Hailo device: %s: %s", type(exc).__name__, exc)
        finally:
            done.set()

    threading.Thread(target=run, name="hailo-teardown", daemon=True).start()
    if done.wait(budget_s):
        return True
    log.warning("closing the Hailo device: no answer within %g s; leaving its teardown to finish in the background "
                "(started %.1f s ago)", budget_s, time.monotonic() - start)
    return False
