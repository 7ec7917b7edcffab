"""The per-photo latency rows: our HTTP request, the reference's file-to-faces and the floor, interleaved.

On a shared, noisy machine the engine's speed drifts by a third within minutes, so a ratio of two medians
taken minutes apart measures the drift as much as the code. Here each round times, one after the other and
in alternating order, one HTTP request to the running server, one ``cv2.imread`` + ``SCRFD.detect()`` in a
persistent InsightFace process (the reference) and the floor in this process (the fastest decode of the file
here + our engine on its input); every ratio is the median of the rounds' own ratios.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
from pathlib import Path

from bench.client import send
from bench.common import timed

REFERENCE_WORKER = r"""
import json, sys, time, cv2
from insightface.model_zoo.scrfd import SCRFD
det = SCRFD(model_file=sys.argv[1])
det.prepare(-1, input_size=(640, 640))
for line in sys.stdin:
    s = time.perf_counter(); img = cv2.imread(line.rstrip("\n")); m = time.perf_counter()
    det.detect(img, input_size=(640, 640)); e = time.perf_counter()
    print(json.dumps([(e - s) * 1e3, (e - m) * 1e3]), flush=True)
"""


class Reference:
    """InsightFace's SCRFD in its own environment, one file-to-faces run per call: (imread + detect ms, detect
    ms). With no reference environment it is absent (``available`` is False) and the rows say n/a."""

    def __init__(self, python: Path, model: Path):
        self.proc = None
        if python.exists():
            self.proc = subprocess.Popen([str(python), "-c", REFERENCE_WORKER, str(model)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, bufsize=1)

    @property
    def available(self) -> bool:
        return self.proc is not None

    def measure(self, path: Path) -> tuple[float, float]:
        self.proc.stdin.write(f"{path}\n")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the reference process ended (exit {self.proc.wait(timeout=10)})")
        both, detect = json.loads(line)
        return both, detect

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
            self.proc = None


def photo_rows(port: int, paths: dict[str, Path], mimes: dict[str, str], floor_parts, reference: Reference,
               n: int) -> dict[str, dict]:
    """Per photo, the medians of ``n`` interleaved rounds: HTTP ms, reference ms (file-to-faces and detect
    alone), the floor's decode and engine ms, and the median per-round ratio, strict ratio and floor ratio
    (None without the reference). ``floor_parts(data)`` returns the two timers of the floor (decode, engine)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        return {name: _photo(conn, path, mimes[name], floor_parts, reference, n) for name, path in paths.items()}
    finally:
        conn.close()


def _photo(conn, path: Path, mime: str, floor_parts, reference: Reference, n: int) -> dict:
    data = path.read_bytes()
    decode, engine = floor_parts(data)
    steps = {"http": lambda: send(conn, "POST", "/v1/detect", data, {"Content-Type": mime})[0],
             "decode": lambda: timed(decode, 1, warmup=0)[0],
             "engine": lambda: timed(engine, 1, warmup=0)[0]}
    if reference.available:
        steps["ref"] = lambda: reference.measure(path)
    for step in steps.values():  # warm each side on this photo
        for _ in range(3):
            step()
    samples: dict[str, list] = {k: [] for k in steps}
    order = list(steps)
    for i in range(n):
        for key in (order if i % 2 == 0 else order[::-1]):
            samples[key].append(steps[key]())
    return _row(samples)


def _row(samples: dict[str, list]) -> dict:
    med = statistics.median
    http, decode, engine = samples["http"], samples["decode"], samples["engine"]
    row = {"http": med(http), "decode": med(decode), "engine": med(engine), "both": None, "detect": None,
           "ratio": None, "strict": None, "floor": None}
    if "ref" in samples:
        both = [b for b, _ in samples["ref"]]
        detect = [d for _, d in samples["ref"]]
        row.update(both=med(both), detect=med(detect),
                   ratio=med(h / b for h, b in zip(http, both, strict=True)),
                   strict=med(h / d for h, d in zip(http, detect, strict=True)),
                   floor=med((dc + e) / b for dc, e, b in zip(decode, engine, both, strict=True)))
    return row
