"""ONNX Runtime's optimised graph, saved once and loaded at later start-ups.

Graph optimisation (constant folding, fusions, and for an INT8 QDQ model turning Q/DQ pairs
into integer kernels) is most of a session's creation time, above all for an INT8 model.
``SessionOptions.optimized_model_filepath`` writes the optimised graph; loading it with
optimisation off skips that work (docs/performance.md). The optimised graph can hold kernels for this CPU and this
ONNX Runtime build only, so the key covers the model file's sha256, the source of the
in-memory rewrites, the ONNX Runtime version, the machine and the CPU flags.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
from pathlib import Path

from ..system.models import model_dir

log = logging.getLogger(__name__)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def optimized_path(model_path: str, model_sha256: str, mode: str) -> Path:
    """Where the optimised graph of ``model_path`` in input ``mode`` (fit or fixed) is kept."""
    import onnxruntime as ort

    key = hashlib.sha256()
    for part in (model_sha256, mode, ort.__version__, platform.machine(), _cpu_flags(),
                 Path(__file__).with_name("onnx_rewrite.py").read_text()):
        key.update(part.encode())
    return model_dir() / "optimized" / f"{Path(model_path).stem}-{mode}-{key.hexdigest()[:16]}.onnx"


def load_cached(options, path: Path, providers: list[str]):
    """A session from the saved optimised graph at ``path``, or None when there is none or it will not load
    (then it is removed, to be written again)."""
    import onnxruntime as ort

    if not path.is_file():
        return None
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:
        log.warning("the cached optimised model %s does not load (%s): optimising again", path, exc)
        path.unlink(missing_ok=True)
        return None


def save_to(options, path: Path) -> Path | None:
    """Ask ONNX Runtime to write the optimised graph next to ``path`` (renamed into place by :func:`commit`);
    None when the model dir cannot be written (the service then just optimises at every start)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.debug("not caching the optimised model: %s", exc)
        return None
    if not os.access(path.parent, os.W_OK):
        return None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    options.optimized_model_filepath = str(tmp)
    return tmp


def commit(tmp: Path | None, path: Path) -> None:
    if tmp is not None and tmp.is_file():
        os.replace(tmp, path)
        log.info("saved the optimised model for later start-ups: %s", path)
