"""The engines' config sections (``onnx:``, ``hailo:``): each backend reads only its own."""

from __future__ import annotations

from dataclasses import dataclass

from ..declared import setting as _key


@dataclass(frozen=True)
class OnnxSection:
    """Used only by the ONNX Runtime backend (an .onnx model). These keys were model.input_size,
    detection.input_mode and performance.inference_{threads,concurrency,spinning} before 0.2; the old names
    still work, with a deprecation warning."""

    input_size: int = _key(640, "Input side in pixels, used only for models whose input shape is not fixed.",
                           min=32, max=2048)
    input_mode: str = _key("fit", "How images are fitted into the network input. fit: scale the long side to "
                           "onnx.input_size and pad only to the next multiple of 32 (640x448 for a 3:2 photo: "
                           "faster, same faces); used when the model takes any input size, which ONNX models do "
                           "after a safe in-memory rewrite. fixed: the reference 640x640 top-left letterbox "
                           "(InsightFace's), as a HEF always runs.", choices=("fit", "fixed"))
    threads: int = _key(0, "ONNX Runtime intra-op threads; 0 = every core.", min=0, max=256)
    concurrency: int = _key(2, "ONNX Runtime runs in flight at once: with 2, a second image starts while the "
                            "first one's threads synchronise, which keeps a 2-core CPU busy between runs.",
                            min=1, max=16)
    busy_threads: int = _key(0, "Intra-op threads of a run that starts while another is in flight, on a second "
                             "session (a lone run keeps onnx.threads, so a single request is as fast as before); "
                             "0 = the cores shared among onnx.concurrency runs (1 on 2 cores). Two single-threaded "
                             "runs side by side do more work than two runs whose threads fight for the same "
                             "cores. When it equals a lone run's threads, one session serves every run.",
                             min=0, max=256)
    spinning: bool = _key(False, "Let idle ONNX Runtime threads spin: slightly lower latency on an idle machine, "
                          "but they take the CPU that request decoding needs.")
    batch_max: int = _key(1, "Dynamic batching: up to this many waiting jobs run as one batch (images "
                          "zero-padded to a common shape; fit mode only); 1 = off. On a 2-core CPU it lowers "
                          "throughput at 8 clients, so it is off.", min=1, max=64)
    cache_optimized: bool = _key(True, "Save ONNX Runtime's optimised graph in the model dir (keyed by the model "
                                 "file's sha256, the ONNX Runtime version and the CPU) and load it at later "
                                 "start-ups instead of optimising again.")


@dataclass(frozen=True)
class HailoSection:
    """Used only by the Hailo backend (a .hef model)."""

    group_id: str = _key("SHARED", "HailoRT scheduler group of the service's VDevice. On a Hailo-10H, processes "
                         "whose VDevices use the same group (not UNIQUE) share the device; a process in UNIQUE, "
                         "HailoRT's default, waits 5 s beside it and fails busy. On a Hailo-8 without HailoRT's "
                         "multi-process service a group is shared only within one process: two processes never "
                         "share the device.")
    batch_size: int = _key(1, "Frames per NPU batch (the scheduler's burst size).", min=1, max=16)
    max_in_flight: int = _key(4, "Inference jobs kept on the NPU at once, capped by HailoRT's async queue size.",
                              min=1, max=16)
    output_format: str = _key("quantized", "Output tensors: quantized (the HEF's own uint8 or uint16, "
                              "dequantized here, only the rows that pass the threshold) or float32 (every value "
                              "dequantized by HailoRT).", choices=("quantized", "float32"))
    fallback_after_s: float = _key(3.0, "With model.fallback: how long requests wait for a lost Hailo device to "
                                   "come back before the CPU answers them (performance.max_queue_size of them at "
                                   "most; the next get 503 queue_full); keep it below "
                                   "performance.inference_timeout_s.", min=0, max=60)
    probe_interval_s: float = _key(5.0, "With model.fallback: how often a lost Hailo device is tried again, "
                                   "after quicker first retries.", min=0.1, max=600)
