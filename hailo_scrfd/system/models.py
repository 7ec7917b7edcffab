"""Known models, where they are cached, and how they are pulled.

The manifest (``models.json`` beside this file, or ``$HAILO_SCRFD_MODELS_MANIFEST``) lists each model's sources,
size, sha256 and licence. A model is cached as ``<model dir>/<file>``; the model dir is, in order:
``$HAILO_SCRFD_MODEL_DIR``, ``$STATE_DIRECTORY/models`` (a systemd service with ``StateDirectory=``), else
``$XDG_CACHE_HOME/hailo-scrfd/models`` (``~/.cache/hailo-scrfd/models``). HEFs that hailo-apps installed under
``/usr/local/hailo/resources/models/<arch>/`` are found too.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .download import DownloadError, Progress, Target, _sha256, download

log = logging.getLogger(__name__)

HEF_ROOT = Path("/usr/local/hailo/resources/models")
# Searched in this order when no model is configured. A 2.5g HEF is there only if an operator put
# it there (hailo-apps installs 10g by default on a Hailo-10H), so it goes first; then 10g, then 500m.
DEFAULT_HEFS = tuple(HEF_ROOT / arch / f"{name}.hef" for arch in ("hailo10h", "hailo8", "hailo8l")
                     for name in ("scrfd_2.5g", "scrfd_10g", "scrfd_500m"))


def find_default_hef(candidates: tuple[Path, ...] = DEFAULT_HEFS) -> str | None:
    """The first installed SCRFD HEF of ``candidates`` (logged), or None."""
    for path in candidates:
        if path.is_file():
            log.info("no model configured: using %s, the first installed of the default HEFs "
                     "(see docs/pi.md; set model.path to choose another)", path)
            return str(path)
    return None


MANIFEST_ENV = "HAILO_SCRFD_MODELS_MANIFEST"
MODEL_DIR_ENV = "HAILO_SCRFD_MODEL_DIR"
SYSTEM_MODEL_DIR = Path("/var/lib/hailo-scrfd/models")
HAILO_APPS_RESOURCES = Path("/usr/local/hailo/resources")  # hailo-apps' RESOURCES_ROOT_PATH_DEFAULT
SUFFIXES = (".onnx", ".hef")


@dataclass(frozen=True)
class Source:
    url: str
    note: str = ""
    member: str | None = None
    archive_sha256: str | None = None
    archive_size: int | None = None


@dataclass(frozen=True)
class ModelEntry:
    name: str
    format: str
    file: str
    description: str
    sha256: str | None
    size: int | None
    licence: str
    sources: tuple[Source, ...]
    arch: str | None = None
    hailo_apps_name: str | None = None

    def hailo_apps_path(self) -> Path | None:
        """Where hailo-apps installs this HEF, or None for a model hailo-apps does not provide."""
        if not (self.arch and self.hailo_apps_name):
            return None
        return _hailo_apps_root() / "models" / self.arch / f"{self.hailo_apps_name}.hef"


@dataclass(frozen=True)
class Manifest:
    default: str
    models: dict[str, ModelEntry]

    def get(self, name: str) -> ModelEntry | None:
        return self.models.get(name)


def load_manifest(path: str | os.PathLike | None = None) -> Manifest:
    """The manifest at ``path``, else ``$HAILO_SCRFD_MODELS_MANIFEST``, else the one shipped with the package."""
    path = path or os.environ.get(MANIFEST_ENV) or Path(__file__).with_name("models.json")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    models = {name: _entry(name, raw) for name, raw in data["models"].items()}
    return Manifest(default=data.get("default", next(iter(models))), models=models)


def _entry(name: str, raw: dict[str, Any]) -> ModelEntry:
    sources = tuple(Source(**{k: v for k, v in s.items() if k in Source.__dataclass_fields__})
                    for s in raw.get("sources", ()))
    return ModelEntry(name=name, format=raw["format"], file=raw.get("file", f"{name}.{raw['format']}"),
                      description=raw.get("description", ""), sha256=raw.get("sha256"), size=raw.get("size"),
                      licence=raw.get("licence", ""), sources=sources, arch=raw.get("arch"),
                      hailo_apps_name=raw.get("hailo_apps_name"))


def model_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where pulled models are written: ``explicit``, the env override, the service's state dir, the user cache."""
    if explicit:
        return Path(explicit)
    if os.environ.get(MODEL_DIR_ENV):
        return Path(os.environ[MODEL_DIR_ENV])
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state:
        return Path(state) / "models"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "hailo-scrfd" / "models"


def search_dirs() -> list[Path]:
    """Where cached models are looked for, the write location first."""
    dirs = [model_dir()]
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    for d in (Path(cache) / "hailo-scrfd" / "models", SYSTEM_MODEL_DIR):
        if d not in dirs:
            dirs.append(d)
    return dirs


def find(name: str, manifest: Manifest | None = None) -> Path | None:
    """The cached file of a known model (or one pulled by name with --url), or None."""
    entry = (manifest or load_manifest()).get(name)
    files = [entry.file] if entry else [name + s for s in SUFFIXES]
    for d in search_dirs():
        for f in files:
            if (d / f).is_file():
                return d / f
    hef = entry.hailo_apps_path() if entry else None
    return hef if hef is not None and hef.is_file() else None


def is_model_name(value: str) -> bool:
    """A bare name (``scrfd_2.5g``), not a path: no directory part and no model-file suffix."""
    return bool(value) and "/" not in value and Path(value).suffix.lower() not in SUFFIXES


def resolve_model(value: str) -> str:
    """``model.path`` as given, or the cached file when it names a model (``scrfd_2.5g``).

    A known name that is not cached raises :class:`~hailo_scrfd.errors.ModelLoadError` saying how to pull it;
    the service never downloads at start-up.
    """
    from ..errors import ModelLoadError

    if not is_model_name(value) or Path(value).is_file():
        return value
    manifest = load_manifest()
    path = find(value, manifest)
    if path is not None:
        return str(path)
    if manifest.get(value) is None:
        known = ", ".join(manifest.models)
        raise ModelLoadError(f"model file not found: {value} (not a file, and not a known model name: {known})")
    raise ModelLoadError(not_downloaded(value))


def not_downloaded(name: str) -> str:
    return (f"model {name} is not downloaded: run `hailo-scrfd models pull {name}` "
            f"(it looks in {', '.join(str(d) for d in search_dirs())})")


def unknown(name: str) -> str:
    known = ", ".join(load_manifest().models)
    return f"unknown model {name}: pass --url and --sha256 to pull it by that name, or use a known one: {known}"


def pull(name: str, *, url: str | None = None, sha256: str | None = None, dest_dir: str | os.PathLike | None = None,
         progress: Progress | None = None, manifest: Manifest | None = None, use_hailo_apps: bool = True,
         attempts: int = 3, timeout_s: float = 30.0) -> Path:
    """Download a model into the model dir (a no-op when the cached file already matches); its path."""
    manifest = manifest or load_manifest()
    entry = manifest.get(name) or _custom_entry(name, url, sha256)
    expected = (sha256 or entry.sha256 or "").lower() or None
    dest = model_dir(dest_dir) / entry.file
    if expected and dest.is_file() and _sha256(dest) == expected:
        log.info("%s is already cached: %s", name, dest)
        return dest
    if expected is None:
        if entry.format == "hef" and url is None and use_hailo_apps and hailo_apps_available():
            return _pull_with_hailo_apps(entry)
        raise DownloadError(f"{name} has no published sha256: pass --sha256 (and --url for a mirror), or install "
                            "hailo-apps to pull HEFs with its own downloader")
    sources = (Source(url),) if url else entry.sources
    errors: list[str] = []
    for src in sources:
        target = Target(label=name, url=src.url, sha256=expected, size=entry.size, member=src.member,
                        archive_sha256=src.archive_sha256, archive_size=src.archive_size)
        try:
            return download(target, dest, progress=progress, attempts=attempts, timeout_s=timeout_s)
        except DownloadError as exc:
            errors.append(str(exc))
            if len(sources) > 1:
                log.warning("source %d of %d failed: %s", len(errors), len(sources), exc)
    more = f" (and {len(errors) - 1} other source(s) failed)" if len(errors) > 1 else ""
    raise DownloadError(errors[0] + more)


def _custom_entry(name: str, url: str | None, sha256: str | None) -> ModelEntry:
    if not (url and sha256):
        raise DownloadError(unknown(name))
    suffix = Path(url.split("?")[0]).suffix.lower()
    if suffix not in SUFFIXES:
        raise DownloadError(f"{url} does not end in .onnx or .hef: the service would not know how to load it")
    return ModelEntry(name=name, format=suffix[1:], file=name + suffix, description="given with --url",
                      sha256=sha256, size=None, licence="as published by its source", sources=(Source(url),))


# -- hailo-apps -----------------------------------------------------------------------------------------------

def hailo_apps_available() -> bool:
    return importlib.util.find_spec("hailo_apps") is not None


def _hailo_apps_root() -> Path:
    # hailo-apps documents its resource root as fixed ("Do Not Change!"); read it from the package when present.
    if hailo_apps_available():
        try:
            from hailo_apps.python.core.common.defines import RESOURCES_ROOT_PATH_DEFAULT
            return Path(RESOURCES_ROOT_PATH_DEFAULT)
        except ImportError:
            pass
    return HAILO_APPS_RESOURCES


def _pull_with_hailo_apps(entry: ModelEntry) -> Path:
    """Let hailo-apps fetch a HEF from its own resource list (resources_config.yaml) into its resource root."""
    from hailo_apps.installation.download_resources import download_resources

    target = entry.hailo_apps_path()
    log.info("pulling %s with hailo-apps (%s for %s) into %s", entry.name, entry.hailo_apps_name, entry.arch, target)
    download_resources(arch=entry.arch, model=entry.hailo_apps_name)
    if target is None or not target.is_file():
        raise DownloadError(f"hailo-apps did not install {entry.hailo_apps_name} for {entry.arch} (its resource list "
                            f"may not name it for that chip): pass --url {entry.sources[0].url} and --sha256")
    log.info("hailo-apps checks file sizes, not hashes; sha256 of %s is %s", target, _sha256(target))
    return target
