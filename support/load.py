"""Client load and CPU load for the stop and restart tests: bounded, on 127.0.0.1 only, stopping by themselves."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter

# A busy loop that ends by itself after ``BUSY_MAX_S`` even if nobody kills it.
BUSY_MAX_S = 300
BUSY = f"import time\nend = time.monotonic() + {BUSY_MAX_S}\nwhile time.monotonic() < end:\n    pass\n"


@contextlib.contextmanager
def cpu_busy(processes: int | None = None):
    """One busy-loop process per core (``os.cpu_count()``), each killed on the way out."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(processes or os.cpu_count() or 1)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def classify(exc: BaseException) -> str:
    """What a failed request saw: ``refused`` (nothing listened: nothing was sent), else a failure."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    return f"dropped {type(exc).__name__}"


class Clients:
    """``count`` threads posting ``body`` to ``path`` on 127.0.0.1:``port`` in a loop, recording each outcome
    (an HTTP status, ``refused``, or a failure) and latency, until ``stop()``, a refusal when ``until_refused``,
    or ``max_requests`` in all. ``keepalive``: reuse a connection until the server closes it."""

    def __init__(self, port: int, body: bytes, *, count: int, path: str = "/v1/detect", keepalive: bool = False,
                 until_refused: bool = False, max_requests: int = 20000, timeout_s: float = 60):
        self.port, self.body, self.path, self.keepalive = port, body, path, keepalive
        self.until_refused, self.max_requests, self.timeout_s = until_refused, max_requests, timeout_s
        self.outcomes: Counter = Counter()
        self.latencies: list[float] = []
        self.answered = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(count)]

    def start(self) -> "Clients":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            if t.ident is not None:  # started
                t.join(self.timeout_s + 5)

    def wait_answers(self, n: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        for _ in range(n):
            if not self.answered.acquire(timeout=max(deadline - time.monotonic(), 0)):
                raise TimeoutError(f"{n} answers not seen in {timeout_s}s: {dict(self.outcomes)}")

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.outcomes.values())

    def failures(self) -> dict:
        return {k: v for k, v in self.outcomes.items() if k not in (200, "refused")}

    def _run(self, index: int) -> None:
        conn, last_try = None, False
        while self.total < self.max_requests:
            if self._stop.is_set():
                # until_refused: one more try after stop(), so that a client whose last answer came as the server
                # exited still ends on its refusal (stop() is called once the server is gone)
                if not self.until_refused or last_try:
                    break
                last_try = True
            conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
            start = time.monotonic()
            outcome, reusable = self._one(conn)
            with self._lock:
                self.outcomes[outcome] += 1
                self.latencies.append(time.monotonic() - start)
            if isinstance(outcome, int):
                self.answered.release()
            if not reusable:
                conn.close()
                conn = None
            if outcome == "refused" and self.until_refused:
                return
        if conn is not None:
            conn.close()

    def _one(self, conn: http.client.HTTPConnection) -> tuple[int | str, bool]:
        headers = {"Content-Type": "image/jpeg"} if self.keepalive else {"Content-Type": "image/jpeg",
                                                                           "Connection": "close"}
        try:
            conn.request("POST", self.path, body=self.body, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except OSError as exc:
            return classify(exc), False
        except http.client.HTTPException as exc:
            return f"dropped {type(exc).__name__}", False
        if resp.status == 200 and "count" not in json.loads(body):
            return "bad body", False
        return resp.status, self.keepalive and not resp.will_close
