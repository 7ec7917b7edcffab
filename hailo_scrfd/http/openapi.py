"""The OpenAPI document this server serves: the packaged ``openapi.json``, fitted to the config.

The file documents every feature. A server states its real contract, so features it has
turned off are taken out of the served copy (today: ``url`` input while ``url_fetch`` is off, and opening
streams while ``streams`` is off, which the server answers 405), and batches list at most the configured
``limits.max_batch_images`` images.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from ..system.config import SCRFDServiceConfig


def packaged_document() -> dict[str, Any]:
    return json.loads(files(__package__).joinpath("openapi.json").read_text(encoding="utf-8"))


def served_document(config: SCRFDServiceConfig) -> dict[str, Any]:
    spec = packaged_document()
    if not config.streams.enabled:
        del spec["paths"]["/v1/streams"]["post"]
    if not config.url_fetch.enabled:
        for operations in spec["paths"].values():
            for operation in operations.values():
                body = operation.get("requestBody", {}).get("content", {}).get("application/json")
                if body and "url" in body["schema"].get("properties", {}):
                    _drop_url(body["schema"])
    _fit_batches(spec, config.limits.max_batch_images)
    return spec


def _drop_url(schema: dict[str, Any]) -> None:
    """A JSON body schema without its ``url`` input: one of the remaining inputs, or ``image`` alone."""
    del schema["properties"]["url"]
    inputs = [branch for branch in schema.pop("oneOf", []) if branch != {"required": ["url"]}]
    if len(inputs) > 1:
        schema["oneOf"] = inputs
    else:
        schema["required"] = ["image"]


def _fit_batches(spec: dict[str, Any], max_images: int) -> None:
    """Every batch (``images``) input lists at most the configured limits.max_batch_images."""
    for operations in spec["paths"].values():
        for operation in operations.values():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                images = content["schema"].get("properties", {}).get("images")
                if images is not None:
                    images["maxItems"] = max_images
