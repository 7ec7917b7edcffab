"""SCRFD on ONNX Runtime: CUDA when the installed build offers it, else the CPU."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading

import numpy as np

from ..errors import ModelLoadError
from ..system.sections import OnnxSection
from ..vision.scrfd import STRIDES, StrideOutput
from .base import Backend, InputSpec, canonical_outputs, check_model_file
from . import onnx_cache

log = logging.getLogger(__name__)

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")
INPUT_MEAN, INPUT_STD = 127.5, 128.0


def choose_providers(available: list[str]) -> list[str]:
    """CUDA first when this onnxruntime build has it, then the CPU, which every build has.

    ONNX Runtime itself falls back to the next provider when CUDA cannot initialise (no
    driver, no GPU), so the backend name reports the provider actually in use.
    """
    return [p for p in PREFERRED_PROVIDERS if p in available] or list(available)


class OnnxBackend(Backend):
    kind = "onnx"

    def __init__(self, model_path: str, section: OnnxSection | None = None, timeout_s: float | None = None):
        """``section``: the config's ``onnx`` section (defaults when None). ``timeout_s`` is not used here:
        the inference worker's watchdog bounds a run, and :meth:`close` ends the runs in flight."""
        import onnxruntime as ort

        check_model_file(model_path, (".onnx",))
        self.model_path = model_path
        section = section or OnnxSection()
        self.max_in_flight = section.concurrency  # Run() is thread-safe: concurrent runs share the session
        self._run_options = ort.RunOptions()  # shared by every run, so that close() can terminate them all
        self._model = None
        self._lanes = None  # while loading, runs use the first session directly
        self._sha256 = onnx_cache.file_sha256(model_path) if section.cache_optimized else None
        self.input_spec = None
        if section.input_mode == "fit":
            self._try_dynamic(section)
        if self.input_spec is None:
            self._load_fixed(section)
        self.name = f"onnxruntime:{self._session.get_providers()[0]}"
        self._lanes = _Lanes(self._session, self._busy_session(section))
        log.info("loaded %s on %s, input %dx%d%s", model_path, self.name, self.input_spec.width,
                 self.input_spec.height, " (fit: any multiple of 32 up to that)" if self.input_spec.dynamic else "")

    def _proto(self):
        """The ONNX model, parsed on first use (not at all when the optimised graph is cached)."""
        import onnx

        if self._model is None:
            try:
                self._model = onnx.load(self.model_path)
            except Exception as exc:
                raise ModelLoadError(f"cannot load ONNX model {self.model_path}: {_reason(exc)}") from None
        return self._model

    def _new_session(self, section: OnnxSection, dynamic: bool):
        """(session, the optimised graph's temporary file to commit once the session has proved itself)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Memory patterns are planned per input shape; with fit mode's many shapes they only cost memory.
        options.enable_mem_pattern = not dynamic
        if section.threads:
            options.intra_op_num_threads = section.threads
        # Idle intra-op threads spin by default, burning the cores the HTTP threads need for decoding.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if section.spinning else "0")
        providers = choose_providers(ort.get_available_providers())
        cache = tmp = None
        batch = dynamic and section.batch_max > 1
        if self._sha256 and providers[0] == "CPUExecutionProvider":
            mode = ("fit-batch" if batch else "fit") if dynamic else "fixed"
            cache = onnx_cache.optimized_path(self.model_path, self._sha256, mode)
            session = onnx_cache.load_cached(options, cache, providers)
            if session is not None:
                return session, None  # checked when it was written: one run at start-up is enough
            tmp = onnx_cache.save_to(options, cache)
        from .onnx_rewrite import make_dynamic, with_batch, with_uint8_input  # not needed with a cached graph

        proto = self._proto()
        if dynamic:
            proto = make_dynamic(proto)[0]
            proto = with_batch(proto) if batch else proto
        proto = with_uint8_input(proto, INPUT_MEAN, INPUT_STD)
        session = ort.InferenceSession(proto.SerializeToString(), sess_options=options, providers=providers)
        return session, (tmp, cache)

    def _busy_session(self, section: OnnxSection):
        """The session for runs that start while another is in flight, or None when one session serves all."""
        cores = _cores()
        lone = section.threads or cores
        busy = section.busy_threads or max(1, cores // max(1, section.concurrency))
        if section.concurrency < 2 or busy == lone or self.name != "onnxruntime:CPUExecutionProvider":
            return None
        session, pending = self._new_session(dataclasses.replace(section, threads=busy), self.input_spec.dynamic)
        if pending and pending[0]:  # the first session wrote (or could not write) the cache; this adds nothing
            pending[0].unlink(missing_ok=True)
        log.info("a run that starts while another is in flight uses %d of %d threads", busy, lone)
        return session

    def _try_dynamic(self, section: OnnxSection) -> None:
        """Fit mode: the model rewritten to take any input size, checked at three shapes; on any failure,
        a warning and ``input_spec`` left None for the fixed input."""
        input_size = section.input_size
        pending = None
        try:
            session, pending = self._new_session(section, True)
            self._use(session, input_size, dynamic=True)
            side, short = input_size, max(32, input_size * 3 // 4 // 32 * 32)
            shapes = ((side, side), (short, side), (side, short)) if pending else ((short, side),)
            for hw in shapes:  # must run, and map, at other shapes
                self.infer(self.prepare(np.zeros((*hw, 3), np.uint8)))
            log.info("%s accepts any input size up to %d", self.model_path, input_size)
            if section.batch_max > 1:
                self._check_batch(section.batch_max, (side, side), (short, side))
        except Exception as exc:
            log.warning("%s cannot take other input sizes (%s): using the fixed %s input",
                        self.model_path, _reason(exc), "x".join(map(str, _static_hw(self._proto()) or ("?", "?"))))
            self.input_spec = None
            if pending and pending[0]:
                pending[0].unlink(missing_ok=True)
            return
        if pending:
            onnx_cache.commit(*pending)

    def _check_batch(self, batch_max: int, *shapes: tuple[int, int]) -> None:
        """A padded batch of two shapes must give what each gives alone (to float rounding), or no batching."""
        tensors = [self.prepare(np.random.default_rng(i).integers(0, 256, (*hw, 3), np.uint8))
                   for i, hw in enumerate(shapes)]
        try:
            batched = self.infer_batch(tensors)
            alone = self.infer(tensors[0])  # the larger shape: padding changes nothing for it
            if not all(np.allclose(a.scores, b.scores, atol=1e-3) for a, b in zip(alone, batched[0], strict=True)):
                raise ValueError("batched outputs differ from single runs")
        except Exception as exc:
            log.warning("%s cannot run batches (%s): dynamic batching off", self.model_path, _reason(exc))
            return
        self.max_batch = batch_max
        log.info("dynamic batching: up to %d images per run", batch_max)

    def _load_fixed(self, section: OnnxSection) -> None:
        path = self.model_path
        try:
            session, pending = self._new_session(section, False)
            self._use(session, section.input_size, dynamic=False)
        except ValueError as exc:
            raise ModelLoadError(f"{path} is not an SCRFD model: {exc}") from None
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"cannot load ONNX model {path}: {_reason(exc)}") from None
        try:
            self.infer(self.prepare(np.zeros((*self.input_spec.hw, 3), np.uint8)))
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"{path} is not a usable SCRFD model: {exc}") from None
        if pending:
            onnx_cache.commit(*pending)

    def _use(self, session, input_size: int, dynamic: bool) -> None:
        inputs = session.get_inputs()
        _, h, w, _ = inputs[0].shape  # the uint8 NHWC input that with_uint8_input made
        static = isinstance(h, int) and isinstance(w, int)
        self._session = session
        self._input_name = inputs[0].name
        self.input_spec = InputSpec(h if static else input_size, w if static else input_size,
                                    dynamic=dynamic and not static)

    def metadata(self) -> dict[str, str]:
        """The model file's metadata (kept in the cached optimised graph too)."""
        return dict(self._session.get_modelmeta().custom_metadata_map)

    def prepare(self, canvas: np.ndarray) -> np.ndarray:
        return canvas[None]  # normalisation runs in the graph (with_uint8_input)

    def infer(self, tensor: np.ndarray) -> list[StrideOutput]:
        outputs = self._run(tensor)
        return canonical_outputs([o.reshape(-1, o.shape[-1]) for o in outputs], tensor.shape[1:3])

    def infer_batch(self, tensors) -> list[list[StrideOutput]]:
        """One run for all ``tensors``, zero-padded at the bottom and right to a common shape; each image's
        outputs are cut back to its own grid, so callers see what a run of that image alone returns."""
        if len(tensors) == 1:
            return [self.infer(tensors[0])]
        padded = (max(t.shape[1] for t in tensors), max(t.shape[2] for t in tensors))
        batch = np.zeros((len(tensors), *padded, 3), np.uint8)
        for i, t in enumerate(tensors):
            batch[i, :t.shape[1], :t.shape[2]] = t[0]
        outputs = self._run(batch)
        return [canonical_outputs([_crop(o[i].reshape(-1, o.shape[-1]), padded, t.shape[1:3]) for o in outputs],
                                  t.shape[1:3]) for i, t in enumerate(tensors)]

    def _run(self, tensor: np.ndarray) -> list[np.ndarray]:
        if self._lanes is None:
            return self._session.run(None, {self._input_name: tensor}, self._run_options)
        with self._lanes.session() as session:
            return session.run(None, {self._input_name: tensor}, self._run_options)

    def close(self) -> None:
        """Runs in flight stop at their next graph node with an error; later calls fail at once."""
        self._run_options.terminate = True
        self._session = None
        self._lanes = _Lanes(None, None)


class _Lanes:
    """Picks each run's session: a lone run gets ``alone`` and all its threads; a run that starts while
    another is in flight gets ``busy``, with fewer. On a 2-core CPU two single-threaded runs side by side
    do more than two 2-thread runs fighting for the cores, and a lone request stays as fast as before
    (docs/performance.md)."""

    def __init__(self, alone, busy):
        self._alone, self._busy = alone, busy
        self._lock = threading.Lock()
        self._running = 0

    @contextlib.contextmanager
    def session(self):
        with self._lock:
            crowded = self._running > 0
            self._running += 1
        try:
            session = self._busy if crowded and self._busy is not None else self._alone
            if session is None:
                raise RuntimeError("the ONNX Runtime session is closed")
            yield session
        finally:
            with self._lock:
                self._running -= 1


def _crop(rows: np.ndarray, padded_hw: tuple[int, int], hw: tuple[int, int]) -> np.ndarray:
    """The rows of one stride's output for the top-left ``hw`` of a ``padded_hw`` input."""
    if tuple(padded_hw) == tuple(hw):
        return rows
    for stride in STRIDES:
        cells = (padded_hw[0] // stride) * (padded_hw[1] // stride)
        if len(rows) % cells == 0 and len(rows) // cells in (1, 2):
            grid = rows.reshape(padded_hw[0] // stride, padded_hw[1] // stride, -1, rows.shape[-1])
            return grid[:hw[0] // stride, :hw[1] // stride].reshape(-1, rows.shape[-1])
    raise ValueError(f"output of {len(rows)} rows matches no stride of a {padded_hw} input")


def _cores() -> int:
    """The cores this process may run on, as ONNX Runtime's default thread count sees them."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _static_hw(model) -> tuple[int, int] | None:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return (dims[2].dim_value, dims[3].dim_value) if len(dims) == 4 else None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__
