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
OWN_DEFAULTS = {("/v1/redact", "mode"): "redaction ignores the config's detection.mode; default full"}
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


def document_text(spec: Mapping[str, Any]) -> str:
    """The file's text, formatted as committed."""
    return json.dumps(spec, indent=2, ensure_ascii=False)
