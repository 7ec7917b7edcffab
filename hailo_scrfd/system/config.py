"""`SCRFDServiceConfig`: the one configuration schema, its defaults, YAML loading and validation.

Every key is declared once, in :mod:`.sections`, with its type, default, range and doc. The
service, ``scripts/render_config.py`` and the documented YAML all derive from it.

The rule for bad values (from the seed): a value of the wrong type or out of range
falls back to its default and logs a warning, so a typo in one key never keeps the
service from starting. A file that is missing or is not YAML at all is a
:class:`~hailo_scrfd.errors.ConfigError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from ..declared import check, declarations
from ..errors import ConfigError
from .models import find_default_hef
from .sections import (MODEL_ENV, CacheSection, DebugSection, DetectionSection, HailoSection, HealthSection,
                       LimitsSection, LoggingSection, ModelSection, OnnxSection, PerformanceSection, QualitySection,
                       SecuritySection, ServerSection, StreamsSection, UrlFetchSection)

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("/etc/hailo/hailo-scrfd.yaml")
DEFAULT_RENDERED_PATH = Path("/etc/xdg/hailo-scrfd/hailo-scrfd.json")
CONFIG_ENV = "HAILO_SCRFD_CONFIG"

# Keys that moved: old (section, key) -> new. Old files keep working, with a deprecation warning.
MOVED_KEYS = {
    ("performance", "inference_threads"): ("onnx", "threads"),
    ("performance", "inference_concurrency"): ("onnx", "concurrency"),
    ("performance", "inference_spinning"): ("onnx", "spinning"),
    ("detection", "input_mode"): ("onnx", "input_mode"),
    ("model", "input_size"): ("onnx", "input_size"),
}


@dataclass(frozen=True)
class SCRFDServiceConfig:
    server: ServerSection = field(default_factory=ServerSection)
    model: ModelSection = field(default_factory=ModelSection)
    detection: DetectionSection = field(default_factory=DetectionSection)
    limits: LimitsSection = field(default_factory=LimitsSection)
    performance: PerformanceSection = field(default_factory=PerformanceSection)
    onnx: OnnxSection = field(default_factory=OnnxSection)
    hailo: HailoSection = field(default_factory=HailoSection)
    security: SecuritySection = field(default_factory=SecuritySection)
    url_fetch: UrlFetchSection = field(default_factory=UrlFetchSection)
    quality: QualitySection = field(default_factory=QualitySection)
    streams: StreamsSection = field(default_factory=StreamsSection)
    cache: CacheSection = field(default_factory=CacheSection)
    health: HealthSection = field(default_factory=HealthSection)
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
        data = _migrate(data, warn)
        sections: dict[str, Any] = {}
        for sec_field in dataclasses.fields(cls):
            raw = data.get(sec_field.name, {})
            if raw is None:
                raw = {}
            if not isinstance(raw, Mapping):
                if getattr(sec_field.default_factory, "fail_closed", False):
                    raise ConfigError(f"config: section '{sec_field.name}' must be a mapping; it fails closed: "
                                      "the service does not start on its defaults")
                warn(f"config: section '{sec_field.name}' must be a mapping; using its defaults")
                raw = {}
            sections[sec_field.name] = _build_section(sec_field.default_factory, sec_field.name, raw, warn)
        for unknown in sorted(set(data) - set(sections)):
            _unknown(f"section '{unknown}'", str(unknown), None, warn)
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
            section, key = MOVED_KEYS.get(tuple(name.split("__", 1)), name.split("__", 1))
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
        return find_default_hef()


def _migrate(data: Mapping[str, Any], warn: Callable[[str], None]) -> dict[str, Any]:
    """A copy of ``data`` with each moved key at its new place; the new key wins when both are set."""
    data = {name: dict(sec) if isinstance(sec, Mapping) else sec for name, sec in data.items()}
    for (old_section, old_key), (new_section, new_key) in MOVED_KEYS.items():
        section = data.get(old_section)
        if not isinstance(section, dict) or old_key not in section:
            continue
        value = section.pop(old_key)
        target = data.get(new_section) or {}
        if not isinstance(target, dict):
            continue  # reported as a bad section by from_mapping
        data[new_section] = target
        if new_key in target:
            warn(f"config: {old_section}.{old_key} is deprecated and ignored, since {new_section}.{new_key} is set")
        else:
            warn(f"config: {old_section}.{old_key} is deprecated; it is used as {new_section}.{new_key}")
            target[new_key] = value
    return data


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
    known = declarations(section_cls)
    for key, value in raw.items():
        info = known.get(key)
        if info is None:
            _unknown(f"key '{section_name}.{key}'", key, section_cls, warn)
            continue
        try:
            values[key] = check(info, value)
        except ValueError as exc:
            if info["fail_closed"] or getattr(section_cls, "fail_closed", False):
                raise ConfigError(f"config: {section_name}.{key} {exc}; this key fails closed: the service does "
                                  "not start on its default") from None
            warn(f"config: {section_name}.{key}={value!r} is invalid ({exc}); using default {info['default']!r}")
    try:
        return section_cls(**values)
    except ValueError as exc:  # a rule between keys (quality.min_brightness below max_brightness)
        warn(f"config: {exc}; using the defaults of section '{section_name}'")
        return section_cls()


def _unknown(what: str, name: str, section_cls: type | None, warn: Callable[[str], None]) -> None:
    """Warn of an unknown key or section; a fatal error where it may be a misspelt fail-closed one."""
    guarded = _fail_closed_names(section_cls)
    close = difflib.get_close_matches(name, guarded, n=1, cutoff=0.75)
    if close or (section_cls is not None and getattr(section_cls, "fail_closed", False)):
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"config: unknown {what}{hint} It is in a part of the config that fails closed: "
                          "fix or remove it")
    warn(f"config: unknown {what} ignored")


def _fail_closed_names(section_cls: type | None) -> list[str]:
    """The fail-closed keys of a section, or (for None) the sections that hold one."""
    if section_cls is None:
        return [f.name for f in dataclasses.fields(SCRFDServiceConfig) if _fail_closed_names(f.default_factory)]
    fields = declarations(section_cls)
    return [k for k, info in fields.items() if info["fail_closed"] or getattr(section_cls, "fail_closed", False)]
