"""The request options' part of ``openapi.json``, written from their declarations (hailo_scrfd/options.py).

Every option appears three times per operation (query parameter, JSON body field, multipart form field);
each gets its schema (type, range, choices and accepted aliases) and its description (the declared doc and
the default) from the one declaration. ``scripts/generate.py`` rewrites the file; a test fails when the
committed file differs.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Mapping

import msgspec

from ..declared import declarations, value_type
from ..options import AlignOptions, DetectOptions, QualityOptions, RedactOptions, RenderOptions
from .params import PARAM_ALIASES

# Which options each path takes, in the order its operation lists them; the classes come first.
PATH_OPTIONS = {
    "/v1/detect": (DetectOptions, QualityOptions),
    "/v1/align": (DetectOptions, QualityOptions, AlignOptions),
    "/v1/best": (DetectOptions, QualityOptions, AlignOptions),
    "/v1/track": (DetectOptions,),
    "/v1/draw": (DetectOptions, QualityOptions, RenderOptions),
    "/v1/redact": (DetectOptions, QualityOptions, RenderOptions, RedactOptions),
}
# Options whose default a request gets from the config, and the key that holds it.
CONFIG_DEFAULTS = {**{name: f"detection.{name}" for name in declarations(DetectOptions)}, "quality": "quality.enabled"}
# An endpoint whose default differs from the config's (pipeline: redact_defaults).
OWN_DEFAULTS = {("/v1/redact", "mode"): "redaction ignores the config's detection.mode; default full",
                ("/v1/track", "rotations"): "video frames ignore the config's detection.rotations; default none"}
JSON_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}


def option_schema(info: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one declared option, as OpenAPI lists it."""
    schema = msgspec.json.schema(value_type(info))
    schema.pop("title", None)
    if info["choices"]:
        aliases = [alias for alias, choice in PARAM_ALIASES.items() if choice in info["choices"]]
        schema = {"type": JSON_TYPES[info["type"]], "enum": [*info["choices"], *aliases]}
    return {**schema, **info["schema"]}


def option_description(path: str, name: str, info: Mapping[str, Any]) -> str:
    default = info["default"]
    shown = str(default).lower() if isinstance(default, bool) else \
        f"{default:g}" if isinstance(default, (int, float)) else str(default)
    rule = OWN_DEFAULTS.get((path, name)) or (f"default: config {CONFIG_DEFAULTS[name]}, {shown}"
                                              if name in CONFIG_DEFAULTS else f"default {shown}")
    return f"{info['doc'].rstrip('.')} ({rule})."


def with_declared_options(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the OpenAPI document whose option schemas and descriptions come from the declarations."""
    spec = copy.deepcopy(dict(spec))
    for path, classes in PATH_OPTIONS.items():
        declared = {name: info for cls in classes for name, info in declarations(cls).items()}
        operation = spec["paths"][path]["post"]
        _add_missing(operation, classes)
        for parameter in operation.get("parameters", []):
            if parameter["name"] in declared:
                info = declared[parameter["name"]]
                parameter["schema"] = option_schema(info)
                parameter["description"] = option_description(path, parameter["name"], info)
        for media in ("application/json", "multipart/form-data"):
            properties = operation["requestBody"]["content"][media]["schema"]["properties"]
            for name in properties.keys() & declared.keys():
                properties[name] = {**option_schema(declared[name]),
                                    "description": option_description(path, name, declared[name])}
    return spec


def _add_missing(operation: dict[str, Any], classes: tuple[type, ...]) -> None:
    """Add the declared options of ``classes`` an operation does not list yet (a new detection option reaches
    every path that takes DetectOptions): after the last one of its class, as a query parameter and a field of
    each body (its schema and description are written afterwards)."""
    parameters = operation.setdefault("parameters", [])
    bodies = [media["schema"]["properties"] for media in operation["requestBody"]["content"].values()
              if "properties" in media.get("schema", {})]
    for cls in classes:
        names = list(declarations(cls))
        for name in names:
            if any(p["name"] == name for p in parameters):
                continue
            at = max((i + 1 for i, p in enumerate(parameters) if p["name"] in names), default=len(parameters))
            parameters.insert(at, {"name": name, "in": "query", "required": False, "schema": {}})
            for properties in bodies:
                properties.setdefault(name, {})


def document_text(spec: Mapping[str, Any]) -> str:
    """The file's text, formatted as committed."""
    return json.dumps(spec, indent=2, ensure_ascii=False)
