"""The OpenAPI document this server serves: the packaged ``openapi.json``, fitted to the config.

The file documents every feature. A server states its real contract, so features it has
turned off are taken out of the served copy (today: ``url`` input while ``url_fetch`` is off, and opening
streams while ``streams`` is off, which the server answers 405).
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
                    schema = body["schema"]
                    del schema["properties"]["url"]
                    schema.pop("oneOf", None)
                    schema["required"] = ["image"]
    return spec
