"""The config file's sections: every key declared once, with its type, default, range and doc.

The engines' sections live in :mod:`.engines`, the fail-closed ones (API keys, URL fetching, video sources)
in :mod:`.exposure`; this module names them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..declared import setting as _key
from ..options import DetectOptions
from ..vision.quality import QualitySettings
from .engines import HailoSection, OnnxSection
from .exposure import SecuritySection, StreamsSection, UrlFetchSection

__all__ = ["MODEL_ENV", "ServerSection", "ModelSection", "DetectionSection", "LimitsSection", "PerformanceSection",
           "OnnxSection", "HailoSection", "SecuritySection", "UrlFetchSection", "QualitySection", "StreamsSection",
           "CacheSection", "HealthSection", "DebugSection", "LoggingSection"]

MODEL_ENV = "HAILO_SCRFD_MODEL"


@dataclass(frozen=True)
class ServerSection:
    """The HTTP server."""

    host: str = _key("127.0.0.1", "Address to bind. Bind 0.0.0.0 only behind a proxy, with API keys, or on a "
                     "trusted network.", fail_closed=True)
    port: int = _key(5001, "TCP port.", min=1, max=65535)
    max_body_mb: float = _key(20.0, "Largest request body in MiB; larger bodies get 413.", min=0.01, max=1024,
                              fail_closed=True)
    shutdown_timeout_s: float = _key(10.0, "On SIGTERM, seconds in-flight requests may take to finish once the "
                                     "listener is closed (after server.drain_s).", min=0, max=300)
    drain_s: float = _key(-1.0, "On SIGTERM, seconds requests are still served while /health answers 503 "
                          "\"draining\", so that a load balancer stops sending first; then the listener closes, "
                          "the connections already queued in the kernel are served, and in-flight requests get "
                          "server.shutdown_timeout_s. -1 (auto): 3 when serve binds the port itself, 0 under "
                          "systemd socket activation (hailo-scrfd.socket keeps the port open across a restart: "
                          "new connections wait in the kernel for the next process, not refused).", min=-1,
                          max=300)
    ui: bool = _key(True, "Serve the web page at / and the interactive API docs at /docs (static files from the "
                    "package, no CDN; with API keys on, the page asks for one).", fail_closed=True)
    watchdog_grace_s: float = _key(60.0, "Under systemd (WatchdogSec), seconds in-process recovery from a device "
                                   "fault may take before the watchdog pings stop and systemd restarts the "
                                   "service.", min=0, max=3600)


@dataclass(frozen=True)
class ModelSection:
    """The model and the engine that runs it."""

    path: str = _key("", "Model file: an SCRFD ONNX export with keypoints (*_bnkps.onnx) or a Hailo HEF. Empty: "
                     f"use the {MODEL_ENV} environment variable, else the first installed of hailo-apps' "
                     "/usr/local/hailo/resources/models/hailo10h/scrfd_2.5g.hef, scrfd_10g.hef, scrfd_500m.hef "
                     "(then the same under hailo8/ and hailo8l/). --model overrides all.")
    backend: str = _key("auto", "Inference backend: auto (hailo for a .hef, else onnx), onnx or hailo.",
                        choices=("auto", "onnx", "hailo"))
    precision: str = _key("auto", "Precision of an ONNX model on the CPU: fp32 (the file as given), int8 (its "
                          "INT8 version, made once by `hailo-scrfd quantize MODEL --calibration DIR_OF_PHOTOS` "
                          "and cached in the model dir under the file's sha256; an error if there is none) or auto "
                          "(when the INT8 version exists, time both at start-up and keep the faster, and log the "
                          "decision; the decision is kept beside the INT8 file per machine, so later starts load "
                          "only that engine; without one, FP32 while model.auto_int8 makes one). Ignored for a "
                          ".hef, which is int8 already.",
                          choices=("auto", "fp32", "int8"))
    auto_int8: str = _key("synthetic", "How model.precision auto gets an INT8 version when the cache has none: "
                          "synthetic (serve FP32 at once; meanwhile a low-priority child process calibrates one on "
                          "scenes drawn procedurally, no photo needed, and caches it; it must find the same faces "
                          "as FP32 on scenes it did not see and run faster, then it replaces FP32 with no request "
                          "failing; later starts load it directly) or off (FP32 until `hailo-scrfd quantize` makes "
                          "one). The environment variable HAILO_SCRFD_AUTO_INT8=off also turns it off.",
                          choices=("synthetic", "off"))
    fallback: str = _key("", "An SCRFD ONNX model served on the CPU when the Hailo device cannot be opened at "
                         "start, or stays lost past hailo.fallback_after_s; /health then says \"degraded\" (still "
                         "200). Empty: no fallback.")


@dataclass(frozen=True)
class DetectionSection(DetectOptions):
    """The defaults of every request's detection options; a request may override each."""


@dataclass(frozen=True)
class LimitsSection:
    """What one request may ask of the service."""

    fail_closed: ClassVar[bool] = True

    max_image_pixels: int = _key(40_000_000, "Largest image (width x height) accepted, checked from the header "
                                 "before decoding.", min=1, max=178_956_970)  # Pillow's hard limit
    max_batch_images: int = _key(16, "Most images in one batch request to /v1/detect or /v1/align (a JSON "
                                 "\"images\" list or repeated multipart \"images\" files); more get 400 "
                                 "batch_too_large. The whole body also counts against server.max_body_mb (413).",
                                 min=1, max=1000)
    memory_budget_mb: int = _key(0, "Memory (MiB) the images of the requests in flight may hold at once: their "
                                 "bodies and decodes, estimated from each image's header before it is decoded. A "
                                 "request that does not fit waits up to memory_wait_s for others to finish, then "
                                 "gets 503 with Retry-After, so a burst of large photos never takes the process "
                                 "over its memory limit. 0: 80 % of what the cgroup's limit (systemd's MemoryMax=) "
                                 "leaves free at start, or without a limit, of half the machine's memory.",
                                 min=0, max=1_000_000)
    memory_wait_s: float = _key(2.0, "How long a request waits for room in memory_budget_mb before its 503.",
                                min=0, max=60)


@dataclass(frozen=True)
class PerformanceSection:
    """Threads, queues and deadlines."""

    worker_threads: int = _key(8, "HTTP worker threads; they decode, run the engine and post-process in "
                               "parallel.", min=1, max=256)
    max_queue_size: int = _key(32, "Inference jobs that may wait; when full, requests get 503 with Retry-After.",
                               min=1, max=10000)
    inference_timeout_s: float = _key(10.0, "How long a request may wait in line for the engine, and how long "
                                      "its run may take before the backend is re-created; either gives a 503.",
                                      min=0.1, max=600)
    batch_wait_ms: float = _key(2.0, "With dynamic batching on (onnx.batch_max above 1): milliseconds a job that "
                                "finds the engine busy may wait for others to fill its batch. A job that finds "
                                "the engine idle never waits.", min=0, max=100)
    reduced_decode: bool = _key(True, "Decode large JPEGs for /v1/detect directly at the reduced size the model "
                                "needs (DCT scaling); /v1/align always decodes in full for sharp crops.")
    batch_in_flight: int = _key(0, "Images of one batch request decoded and inferred at once, so decoding "
                                "overlaps inference; 0 = the backend's frames in flight plus two.", min=0, max=64)


@dataclass(frozen=True)
class QualitySection(QualitySettings):
    """Face quality (pose, sharpness, size, exposure, an overall score and issue codes), measured on the
    ArcFace-aligned 112x112 crop. Requests ask for it with quality: true; these are the thresholds behind
    each issue code, so a client can act on the codes without knowing the maths."""

    enabled: bool = _key(False, "Add the quality block when a request does not say (its quality field).")
    refine_faces: int = _key(8, "The pose of this many faces (the largest) comes from landmarks re-detected on "
                             "an upright cell of the face and its mirror, which holds roll and yaw on tilted "
                             "faces. It costs one extra engine run per 8 faces on a 640x640 model (a HEF), one "
                             "run per face on a CPU. 0: the detector's landmarks only.", min=0, max=64)


@dataclass(frozen=True)
class CacheSection:
    """The result cache: a photo sent again with the same options (detect, then align; a retry) is answered
    from memory, without decoding it for detection or running the engine. Entries are scoped to the API key
    when keys are on, never written to disk, and emptied when the model is re-created or the CPU fallback
    takes over or hands back."""

    enabled: bool = _key(True, "Keep results in memory for repeated requests.")
    max_mb: int = _key(64, "Memory (MiB) the cached results may hold; the least recently used go first.",
                       min=1, max=65536)
    ttl_s: float = _key(600.0, "Seconds a result is kept after it was made.", min=1, max=86400)


@dataclass(frozen=True)
class HealthSection:
    """GET /health?deep=1 runs one small probe image through the live backend and checks the raw outputs
    (finite, in range, not constant: a device that answers with garbage fails it) and, with probe_image and
    probe_expected_faces, the faces found. A failing probe answers 503, so a load balancer takes the instance
    out; plain GET /health never runs it."""

    probe_timeout_s: float = _key(3.0, "Deadline for the probe; one still running then fails (503).",
                                  min=0.1, max=60)
    probe_cache_s: float = _key(5.0, "Seconds a probe's result is reused: a monitor polling ?deep=1 more often "
                                "gets that result, and never more than one probe runs at a time, so polling "
                                "cannot load the NPU.", min=0, max=3600)
    probe_image: str = _key("", "An image file (JPEG, PNG...) the probe runs on, read once at start; a missing "
                            "or undecodable file stops the start with one line. Empty: a built-in synthetic "
                            "scene, generated at start.")
    probe_expected_faces: int = _key(-1, "With probe_image: how many faces it shows (one pass at the detection "
                                     "defaults, as mode fast finds them); the probe fails when it finds another "
                                     "number. -1: not checked.", min=-1, max=10000)


@dataclass(frozen=True)
class DebugSection:
    """Test hooks."""

    fault_injection: bool = _key(False, "When true, POST /debug/faults {\"mode\": \"error\"|\"hang\", \"count\": "
                                 "N} makes the next inferences fail or hang, to exercise recovery. Never enable "
                                 "it in production.")


@dataclass(frozen=True)
class LoggingSection:
    """The service's log."""

    level: str = _key("INFO", "Log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
