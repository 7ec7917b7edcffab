"""`SCRFDServiceConfig`: the one configuration schema, its defaults, YAML loading and validation.

Every key is declared once, with its type, default, range and a one-line doc. The
service, ``scripts/render_config.py`` and the documented YAML all derive from it.

The rule for bad values (from the seed): a value of the wrong type or out of range
falls back to its default and logs a warning, so a typo in one key never keeps the
service from starting. A file that is missing or is not YAML at all is a
:class:`~hailo_scrfd.errors.ConfigError`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from .errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("/etc/hailo/hailo-scrfd.yaml")
DEFAULT_RENDERED_PATH = Path("/etc/xdg/hailo-scrfd/hailo-scrfd.json")
CONFIG_ENV = "HAILO_SCRFD_CONFIG"
MODEL_ENV = "HAILO_SCRFD_MODEL"


def _key(default: Any, doc: str, *, min: float | None = None, max: float | None = None,
         choices: tuple[Any, ...] | None = None) -> Any:
    return field(default=default, metadata={"doc": doc, "min": min, "max": max, "choices": choices})


@dataclass(frozen=True)
class ServerSection:
    host: str = _key("127.0.0.1", "Address to bind; keep loopback unless a proxy or API key protects it.")
    port: int = _key(5001, "TCP port to listen on.", min=1, max=65535)
    max_body_mb: float = _key(20.0, "Largest accepted request body, in MiB; larger bodies get 413.", min=0.01, max=1024)
    shutdown_timeout_s: float = _key(10.0, "On SIGTERM, how long in-flight requests may take to finish.",
                                     min=0, max=300)
    watchdog_grace_s: float = _key(60.0, "Under systemd, how long in-process recovery may try before the watchdog "
                                   "pings stop and systemd restarts the service.", min=0, max=3600)


@dataclass(frozen=True)
class ModelSection:
    path: str = _key("", f"SCRFD model file (.onnx or .hef). Empty: use ${MODEL_ENV}.")
    backend: str = _key("auto", "Inference backend: auto picks hailo for a .hef when a device is present, else onnx.",
                        choices=("auto", "onnx", "hailo"))
    input_size: int = _key(640, "Network input side in pixels, for models whose input shape is not fixed.",
                           min=32, max=2048)
    fallback: str = _key("", "ONNX model served on the CPU when the Hailo device cannot be opened at start or "
                         "stays lost past hailo.fallback_after_s; empty: no fallback.")


@dataclass(frozen=True)
class DetectionSection:
    threshold: float = _key(0.5, "Default minimum face score.", min=0.0, max=1.0)
    nms_threshold: float = _key(0.4, "Default IoU above which overlapping faces are merged.", min=0.0, max=1.0)
    max_faces: int = _key(0, "Default cap on faces per image, keeping the largest; 0 means no cap.", min=0, max=10000)
    min_face_size: float = _key(0.0, "Default minimum face box side, in original-image pixels.", min=0, max=100000)
    input_mode: str = _key("fit", "fit: pad only to a multiple of 32 (faster; needs a backend that takes any size); "
                           "fixed: the reference 640x640 top-left letterbox.", choices=("fit", "fixed"))


@dataclass(frozen=True)
class LimitsSection:
    max_image_pixels: int = _key(40_000_000, "Largest accepted image, width x height, checked before decoding.",
                                 min=1, max=178_956_970)  # Pillow's hard limit


@dataclass(frozen=True)
class PerformanceSection:
    worker_threads: int = _key(8, "HTTP worker threads: they decode, pre- and post-process in parallel.",
                               min=1, max=256)
    max_queue_size: int = _key(32, "Inference jobs that may wait; beyond it requests get 503 with Retry-After.",
                               min=1, max=10000)
    inference_threads: int = _key(0, "ONNX Runtime intra-op threads; 0 lets ONNX Runtime use every core.",
                                  min=0, max=256)
    inference_concurrency: int = _key(2, "ONNX Runtime runs in flight at once on the one session; two keep a "
                                      "2-core CPU busy between runs (+12% throughput, same latency).", min=1, max=16)
    inference_timeout_s: float = _key(10.0, "How long a request waits for its inference before a 503.",
                                      min=0.1, max=600)
    reduced_decode: bool = _key(True, "Decode large JPEGs for /v1/detect at the reduced size the model needs "
                                "(DCT scaling); /v1/align always decodes in full.")
    inference_spinning: bool = _key(False, "Let idle ONNX Runtime threads spin: lower latency on an idle "
                                    "machine, but they take CPU from request decoding.")


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
class DebugSection:
    fault_injection: bool = _key(False, "Test hook: POST /debug/faults makes the backend fail or hang. Never in "
                                 "production.")


@dataclass(frozen=True)
class LoggingSection:
    level: str = _key("INFO", "Log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


@dataclass(frozen=True)
class SCRFDServiceConfig:
    server: ServerSection = field(default_factory=ServerSection)
    model: ModelSection = field(default_factory=ModelSection)
    detection: DetectionSection = field(default_factory=DetectionSection)
    limits: LimitsSection = field(default_factory=LimitsSection)
    performance: PerformanceSection = field(default_factory=PerformanceSection)
    hailo: HailoSection = field(default_factory=HailoSection)
    security: SecuritySection = field(default_factory=SecuritySection)
    url_fetch: UrlFetchSection = field(default_factory=UrlFetchSection)
    debug: DebugSection = field(default_factory=DebugSection)
    logging: LoggingSection = field(default_factory=LoggingSection)

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None,
                     warn: Callable[[str], None] = log.warning) -> "SCRFDServiceConfig":
        """Build a config from parsed YAML/JSON, replacing invalid values by defaults (with a warning)."""
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            warn(f"config: top level must be a mapping, got {type(data).__name__}; using all defaults")
            data = {}
        sections: dict[str, Any] = {}
        for sec_field in dataclasses.fields(cls):
            raw = data.get(sec_field.name, {})
            if raw is None:
                raw = {}
            if not isinstance(raw, Mapping):
                warn(f"config: section '{sec_field.name}' must be a mapping; using its defaults")
                raw = {}
            sections[sec_field.name] = _build_section(sec_field.default_factory, sec_field.name, raw, warn)
        for unknown in sorted(set(data) - set(sections)):
            warn(f"config: unknown section '{unknown}' ignored")
        return cls(**sections)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None,
             warn: Callable[[str], None] = log.warning) -> "SCRFDServiceConfig":
        """Load from ``path``, else ``$HAILO_SCRFD_CONFIG``, else the system file if present, else defaults."""
        resolved = resolve_config_path(path)
        if resolved is None:
            return cls()
        return cls.from_mapping(read_yaml(resolved), warn)

    def override(self, **dotted: Any) -> "SCRFDServiceConfig":
        """Return a copy with ``section__key=value`` overrides applied (None values are skipped)."""
        cfg = self
        for name, value in dotted.items():
            if value is None:
                continue
            section, key = name.split("__", 1)
            cfg = dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **{key: value})})
        return cfg

    # -- rendering --------------------------------------------------------------------

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}
                for name, section in dataclasses.asdict(self).items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    # -- derived values ---------------------------------------------------------------

    @property
    def max_body_bytes(self) -> int:
        return int(self.server.max_body_mb * 1024 * 1024)

    def model_path(self) -> str | None:
        """The model file: ``model.path``, else ``$HAILO_SCRFD_MODEL``, else the first installed hailo-apps HEF."""
        if self.model.path or os.environ.get(MODEL_ENV):
            return self.model.path or os.environ[MODEL_ENV]
        from .backends.hailo_info import find_default_hef  # the search order is the Hailo backend's
        return find_default_hef()


def schema() -> list[tuple[str, str, dict[str, Any]]]:
    """Every key as ``(section, key, info)`` with info holding type, default, min, max, choices and doc."""
    rows = []
    for sec_field in dataclasses.fields(SCRFDServiceConfig):
        for f in dataclasses.fields(sec_field.default_factory):
            rows.append((sec_field.name, f.name, {"type": f.type, "default": f.default, **f.metadata}))
    return rows


def resolve_config_path(path: str | os.PathLike | None) -> Path | None:
    """Which config file to read; an explicitly named file that is missing is an error."""
    explicit = path or os.environ.get(CONFIG_ENV)
    if explicit:
        p = Path(explicit)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        return p
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}") from None


def _build_section(section_cls: type, section_name: str, raw: Mapping[str, Any],
                   warn: Callable[[str], None]) -> Any:
    values = {}
    known = {f.name: f for f in dataclasses.fields(section_cls)}
    for key, value in raw.items():
        f = known.get(key)
        if f is None:
            warn(f"config: unknown key '{section_name}.{key}' ignored")
            continue
        problem = _check(value, f.type, f.metadata)
        if problem:
            warn(f"config: {section_name}.{key}={value!r} is invalid ({problem}); using default {f.default!r}")
            continue
        values[key] = float(value) if f.type == "float" else tuple(value) if f.type.startswith("tuple") else value
    return section_cls(**values)


def _check(value: Any, type_name: str, meta: Mapping[str, Any]) -> str | None:
    """Why ``value`` is not acceptable for a key of this type and metadata, or None if it is."""
    if type_name == "str":
        if not isinstance(value, str):
            return "expected a string"
    elif type_name == "bool":
        if not isinstance(value, bool):
            return "expected true or false"
    elif type_name == "tuple[str, ...]":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            return "expected a list of strings"
    elif type_name == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return "expected an integer"
    elif type_name == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "expected a number"
        if not math.isfinite(value):
            return "expected a finite number"
    if meta.get("choices") and value not in meta["choices"]:
        return "expected one of " + ", ".join(map(str, meta["choices"]))
    if meta.get("min") is not None and value < meta["min"]:
        return f"below the minimum {meta['min']}"
    if meta.get("max") is not None and value > meta["max"]:
        return f"above the maximum {meta['max']}"
    return None
