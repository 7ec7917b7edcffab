"""The config file's sections: every key declared once, with its type, default, range and a one-line doc."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import DetectOptions
from ..options import setting as _key

MODEL_ENV = "HAILO_SCRFD_MODEL"


@dataclass(frozen=True)
class ServerSection:
    host: str = _key("127.0.0.1", "Address to bind; keep loopback unless a proxy or API key protects it.")
    port: int = _key(5001, "TCP port to listen on.", min=1, max=65535)
    max_body_mb: float = _key(20.0, "Largest accepted request body, in MiB; larger bodies get 413.", min=0.01, max=1024)
    shutdown_timeout_s: float = _key(10.0, "On SIGTERM, how long in-flight requests may take to finish.",
                                     min=0, max=300)
    ui: bool = _key(True, "Serve the web page at / and the interactive API docs at /docs (static files, no CDN).")
    watchdog_grace_s: float = _key(60.0, "Under systemd, how long in-process recovery may try before the watchdog "
                                   "pings stop and systemd restarts the service.", min=0, max=3600)


@dataclass(frozen=True)
class ModelSection:
    path: str = _key("", f"SCRFD model file (.onnx or .hef). Empty: use ${MODEL_ENV}.")
    backend: str = _key("auto", "Inference backend: auto picks hailo for a .hef file, else onnx.",
                        choices=("auto", "onnx", "hailo"))
    precision: str = _key("auto", "ONNX models on the CPU: fp32 runs the file as given; int8 runs its INT8 version "
                          "from `hailo-scrfd quantize` (an error if there is none); auto times both at start-up "
                          "when the INT8 version exists and keeps the faster. Ignored for a .hef (already int8).",
                          choices=("auto", "fp32", "int8"))
    fallback: str = _key("", "ONNX model served on the CPU when the Hailo device cannot be opened at start or "
                         "stays lost past hailo.fallback_after_s; empty: no fallback.")


@dataclass(frozen=True)
class DetectionSection(DetectOptions):
    """The request defaults: every key of :class:`~hailo_scrfd.options.DetectOptions`."""


@dataclass(frozen=True)
class LimitsSection:
    max_image_pixels: int = _key(40_000_000, "Largest accepted image, width x height, checked before decoding.",
                                 min=1, max=178_956_970)  # Pillow's hard limit
    max_batch_images: int = _key(16, "Most images in one batch request (/v1/detect, /v1/align); more get 400 "
                                 "batch_too_large. The whole body also counts against server.max_body_mb.",
                                 min=1, max=1000)


@dataclass(frozen=True)
class PerformanceSection:
    worker_threads: int = _key(8, "HTTP worker threads: they decode, run the engine and post-process in parallel.",
                               min=1, max=256)
    max_queue_size: int = _key(32, "Inference jobs that may wait; beyond it requests get 503 with Retry-After.",
                               min=1, max=10000)
    inference_timeout_s: float = _key(10.0, "How long a request may wait in line for the engine, and how long "
                                      "its run may take before the backend is re-created; either gives a 503.",
                                      min=0.1, max=600)
    batch_wait_ms: float = _key(2.0, "With dynamic batching on (onnx.batch_max > 1), how long a job that finds "
                                "the engine busy may wait for others to fill its batch; a lone job never waits.",
                                min=0, max=100)
    reduced_decode: bool = _key(True, "Decode large JPEGs for /v1/detect at the reduced size the model needs "
                                "(DCT scaling); /v1/align always decodes in full.")
    batch_in_flight: int = _key(0, "Images of one batch request decoded and inferred at once; 0: the backend's "
                                "frames in flight plus two, so decoding overlaps inference.", min=0, max=64)


@dataclass(frozen=True)
class OnnxSection:
    input_size: int = _key(640, "Network input side in pixels, for models whose input shape is not fixed.",
                           min=32, max=2048)
    input_mode: str = _key("fit", "fit: pad only to a multiple of 32 (faster; needs a model that takes any size); "
                           "fixed: the reference 640x640 top-left letterbox.", choices=("fit", "fixed"))
    threads: int = _key(0, "ONNX Runtime intra-op threads; 0 lets ONNX Runtime use every core.", min=0, max=256)
    concurrency: int = _key(2, "ONNX Runtime runs in flight at once on the one session; two keep a "
                            "2-core CPU busy between runs (+12% throughput, same latency).", min=1, max=16)
    busy_threads: int = _key(0, "Intra-op threads of a run that starts while another is in flight, on a second "
                             "session (a lone run keeps onnx.threads); 0: the cores shared among onnx.concurrency "
                             "runs. When it equals a lone run's threads, one session serves every run.",
                             min=0, max=256)
    spinning: bool = _key(False, "Let idle ONNX Runtime threads spin: lower latency on an idle "
                          "machine, but they take CPU from request decoding.")
    batch_max: int = _key(1, "Dynamic batching: up to this many waiting jobs run as one batch, padded to a common "
                          "shape (fit mode only); 1 = off. Measured on a 2-core CPU it loses throughput.",
                          min=1, max=64)
    cache_optimized: bool = _key(True, "Save ONNX Runtime's optimised graph in the model dir (keyed by the model's "
                                 "sha256, the ONNX Runtime version and the CPU) and load it next time: start-up "
                                 "skips graph optimisation (0.29 -> 0.04 s for an INT8 model).")


@dataclass(frozen=True)
class QualitySection:
    """Face quality: the request default, and the thresholds behind each issue code (vision.quality)."""

    enabled: bool = _key(False, "Add the quality block to each face when a request does not say (quality).")
    min_face_size: float = _key(40.0, "Box short side in original pixels below which a face is 'small'.",
                                min=0, max=100000)
    min_sharpness: float = _key(50.0, "Laplacian variance of the aligned 112x112 crop below which a face is "
                                "'blurry'.", min=0, max=100000)
    max_yaw: float = _key(35.0, "Degrees of |yaw| above which a face is 'turned'.", min=0, max=90)
    max_pitch: float = _key(25.0, "Degrees of |pitch| above which a face is 'turned'.", min=0, max=90)
    min_brightness: float = _key(50.0, "Mean grey level (0-255) of the face below which it is 'dark'.",
                                 min=0, max=255)
    max_brightness: float = _key(200.0, "Mean grey level above which a face is 'overexposed'; above "
                                 "min_brightness.", min=0, max=255)
    min_confidence: float = _key(0.6, "Detection score below which a face is 'low_confidence'.", min=0, max=1)
    edge_margin: float = _key(1.0, "Pixels from an image edge within which a face box is 'cut_off'.",
                              min=0, max=1000)
    refine_faces: int = _key(8, "Faces (the largest) whose pose comes from landmarks re-detected on an upright "
                             "cell and its mirror: one extra engine run per 8 faces on a 640x640 model, about "
                             "25 ms per face on a CPU. 0: pose from the detector's landmarks.", min=0, max=64)


@dataclass(frozen=True)
class HailoSection:
    group_id: str = _key("SHARED", "HailoRT scheduler group: processes with the same group share one device.")
    batch_size: int = _key(1, "Frames per NPU batch (the scheduler's burst size).", min=1, max=16)
    max_in_flight: int = _key(4, "Inference jobs kept on the NPU at once (capped by HailoRT's async queue size).",
                              min=1, max=16)
    output_format: str = _key("quantized", "Output tensors from HailoRT: quantized (the HEF's uint8 or uint16, "
                              "dequantized here, only the rows needed) or float32 (dequantized by HailoRT).",
                              choices=("quantized", "float32"))
    fallback_after_s: float = _key(3.0, "With model.fallback: how long requests wait for a lost Hailo device to "
                                   "come back before the CPU answers them; keep it below "
                                   "performance.inference_timeout_s.", min=0, max=60)
    probe_interval_s: float = _key(5.0, "With model.fallback: how often a lost Hailo device is tried again, "
                                   "after quicker first retries.", min=0.1, max=600)


@dataclass(frozen=True)
class SecuritySection:
    api_keys: tuple[str, ...] = _key((), "API keys; when any is set, requests need one (Bearer or X-API-Key).")
    api_keys_file: str = _key("", "A file of API keys, one per line (# comments), added to api_keys.")
    health_public: bool = _key(True, "With keys set, GET /health still answers without one.")
    metrics_public: bool = _key(False, "With keys set, GET /metrics answers without one.")


@dataclass(frozen=True)
class UrlFetchSection:
    enabled: bool = _key(False, "Accept {\"url\": ...} instead of an image; off unless set.")
    allowed_schemes: tuple[str, ...] = _key(("https",), "URL schemes that may be fetched (http, https).")
    allowed_hosts: tuple[str, ...] = _key((), "Hosts that may be fetched: exact names, or *.example.org.")
    allow_private_addresses: bool = _key(False, "Allow hosts that resolve to private, loopback or link-local "
                                         "addresses (SSRF risk: only for trusted internal hosts).")
    timeout_s: float = _key(5.0, "Deadline for one fetch.", min=0.1, max=60)
    max_mb: float = _key(20.0, "Largest image fetched, in MiB.", min=0.01, max=1024)


@dataclass(frozen=True)
class StreamsSection:
    enabled: bool = _key(False, "Accept POST /v1/streams on RTSP/HTTP URLs (also needs url_fetch.enabled and its "
                         "host fences) or on files under media_dir; off unless set.")
    schemes: tuple[str, ...] = _key(("rtsp", "http"), "URL schemes a stream may use (rtsp, http, https).")
    media_dir: str = _key("", "Directory whose video files may be opened as streams; empty: no files.")
    max_streams: int = _key(4, "Streams running at once; more get 429.", min=1, max=256)
    max_fps: float = _key(15.0, "Frames processed per second per stream; newer frames replace older ones.",
                          min=0.1, max=1000)
    max_clients: int = _key(4, "Event (SSE) clients at once, all streams together; keep it below "
                            "performance.worker_threads, since each holds a worker thread.", min=1, max=256)
    max_sessions: int = _key(16, "Pushed-frame tracking sessions (POST /v1/track) at once; more get 429.",
                             min=1, max=10000)
    session_idle_s: float = _key(60.0, "A pushed-frame session with no frame for this long expires.", min=1,
                                 max=86400)
    stall_timeout_s: float = _key(10.0, "A source that yields no frame for this long has stalled: the stream "
                                  "ends with an error event.", min=0.5, max=600)
    retries: int = _key(0, "Reopen a failed source this many times, with doubling backoff, before giving up.",
                        min=0, max=100)
    retry_backoff_s: float = _key(1.0, "First wait before reopening a failed source; doubles each try, at most "
                                  "60 s.", min=0.1, max=60)
    lost_track_frames: int = _key(15, "Processed frames a track survives without its face before it ends.",
                                  min=1, max=1000)
    keepalive_s: float = _key(15.0, "An idle event stream sends a comment this often, so dead clients are "
                              "noticed.", min=0.5, max=300)
    best_shot_size: int = _key(112, "Side of the aligned best-shot crop: a multiple of 112 or 128.",
                               min=112, max=1024)


@dataclass(frozen=True)
class HealthSection:
    probe_timeout_s: float = _key(3.0, "Deadline for the probe of GET /health?deep=1; a probe still running then "
                                  "fails (503).", min=0.1, max=60)
    probe_cache_s: float = _key(5.0, "How long a probe's result is reused: a monitor polling ?deep=1 more often "
                                "gets that result, and never more than one probe runs at a time.", min=0, max=3600)
    probe_image: str = _key("", "An image file the probe runs on, read once at start; empty: a built-in "
                            "synthetic scene.")
    probe_expected_faces: int = _key(-1, "With probe_image: how many faces it shows; the probe fails when it "
                                     "finds another number. -1: not checked.", min=-1, max=10000)


@dataclass(frozen=True)
class DebugSection:
    fault_injection: bool = _key(False, "Test hook: POST /debug/faults makes the backend fail or hang. Never in "
                                 "production.")


@dataclass(frozen=True)
class LoggingSection:
    level: str = _key("INFO", "Log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
