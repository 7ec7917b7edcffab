"""The OpenAPI 3.1 document: valid, served, matched by every real response, and in agreement with docs/api.md."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from PIL import Image
from referencing import Registry, Resource

from hailo_scrfd.http.app import create_app
from hailo_scrfd.http.openapi import served_document
from hailo_scrfd.http.pictures import redact_defaults
from hailo_scrfd.http.params import PARAM_ALIASES
from hailo_scrfd.options import (MODES, ORDERS, AlignOptions, DetectOptions, QualityOptions, RedactOptions,
                                 RenderOptions, declarations)
from hailo_scrfd.vision import order as vision_order
from hailo_scrfd.vision import scales as vision_scales
from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.runtime.model import SCRFDModel

from ..conftest import ROOT

REDACT_MODE = redact_defaults(DetectOptions()).mode  # /v1/redact's own default: the most thorough mode
SPEC_PATH = ROOT / "hailo_scrfd" / "http" / "openapi.json"
SPEC = json.loads(SPEC_PATH.read_text())
BASE = "urn:hailo-scrfd:openapi"
REGISTRY = Registry().with_resource(BASE, Resource.opaque(SPEC))  # lets schemas $ref into the document


def check(path: str, method: str, resp) -> None:
    """The response's status is documented for this operation, and its JSON body matches the schema."""
    responses = SPEC["paths"][path][method]["responses"]
    assert str(resp.status_code) in responses, f"{method.upper()} {path} answered undocumented {resp.status_code}"
    content = responses[str(resp.status_code)]["content"]
    media = resp.mimetype
    assert media in content, f"{method.upper()} {path} {resp.status_code}: undocumented media type {media}"
    if media == "application/json":
        schema = {"$ref": f"{BASE}#{content[media]['schema']['$ref'][1:]}"} if "$ref" in content[media]["schema"] \
            else content[media]["schema"]
        Draft202012Validator(schema, registry=REGISTRY).validate(resp.get_json())




def test_document_is_valid_openapi_31():
    validate(SPEC)
    assert SPEC["openapi"].startswith("3.1")


def test_document_is_served_fitted_to_the_config(client, model):
    resp = client.get("/openapi.json")
    assert resp.status_code == 200 and resp.get_json() == served_document(model.config)
    paths = resp.get_json()["paths"]
    body = paths["/v1/detect"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "url" not in body["properties"]  # url_fetch is off by default
    assert body["oneOf"] == [{"required": ["image"]}, {"required": ["images"]}]
    body = paths["/v1/draw"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "url" not in body["properties"] and "oneOf" not in body and body["required"] == ["image"]
    few = create_app(model.config.override(limits__max_batch_images=3), model).test_client()
    for path in ("/v1/detect", "/v1/align"):
        for content in few.get("/openapi.json").get_json()["paths"][path]["post"]["requestBody"]["content"].values():
            assert content["schema"].get("properties", {}).get("images", {"maxItems": 3})["maxItems"] == 3
    enabled = create_app(model.config.override(url_fetch__enabled=True, streams__enabled=True), model).test_client()
    assert enabled.get("/openapi.json").get_json() == SPEC


def test_every_route_is_documented_and_every_path_is_routed(model):
    client = create_app(model.config.override(streams__enabled=True), model).test_client()  # every feature on
    app_routes = {(re.sub(r"<(\w+)>", r"{\1}", r.rule), m.lower()) for r in client.application.url_map.iter_rules()
                  for m in r.methods - {"HEAD", "OPTIONS"}
                  if r.endpoint != "static" and not r.endpoint.startswith("ui.")}  # the page is not the API
    spec_routes = {(p, m) for p, ops in SPEC["paths"].items() for m in ops}
    assert app_routes == spec_routes


def test_success_responses_match(client, t1):
    check("/health", "get", client.get("/health"))
    check("/metrics", "get", client.get("/metrics"))
    check("/openapi.json", "get", client.get("/openapi.json"))
    check("/v1/detect", "post", client.post("/v1/detect", data=t1, content_type="image/jpeg"))
    check("/v1/detect", "post", client.post("/v1/detect?max_faces=0", data=t1, content_type="image/jpeg"))
    check("/v1/align", "post", client.post("/v1/align?format=jpeg&size=128", data=t1, content_type="image/jpeg"))
    empty = io.BytesIO()
    Image.new("RGB", (64, 64)).save(empty, "PNG")
    check("/v1/align", "post", client.post("/v1/align", data=empty.getvalue(), content_type="image/png"))
    for path in ("/v1/draw", "/v1/redact"):
        check(path, "post", client.post(path, data=t1, content_type="image/jpeg"))
        check(path, "post", client.post(path + "?format=png&max_side=64", data=t1, content_type="image/jpeg"))
    check("/v1/redact", "post", client.post("/v1/redact", json={"image": base64.b64encode(t1).decode(),
                                                                 "style": "fill"}))
    batch = {"images": [base64.b64encode(t1).decode(), base64.b64encode(b"x").decode()]}
    for path in ("/v1/detect", "/v1/align"):
        check(path, "post", client.post(path, json=batch))
        check(path, "post", client.post(path, data={"images": [(io.BytesIO(t1), "a.jpg"), (io.BytesIO(b"x"), "b")]}))


def test_error_responses_match(client, t1, model):
    for path in ("/v1/detect", "/v1/align", "/v1/draw", "/v1/redact"):
        check(path, "post", client.post(path, data=b"{", content_type="application/json"))
        check(path, "post", client.post(path + "?threshold=2", data=t1, content_type="image/jpeg"))
        check(path, "post", client.post(path, data=b"x", content_type="text/plain"))
        check(path, "post", client.post(path, data=b"not an image", content_type="image/png"))
        check(path, "post", client.post(path, json={"image": base64.b64encode(b"x").decode()}))
    for path in ("/v1/draw", "/v1/redact"):
        check(path, "post", client.post(path + "?style=pixelate&format=gif", data=t1, content_type="image/jpeg"))
    small = create_app(model.config.override(server__max_body_mb=0.01, limits__max_batch_images=1), model)
    small = small.test_client()
    check("/v1/detect", "post", small.post("/v1/detect", data=b"\0" * 20000, content_type="image/jpeg"))
    check("/v1/redact", "post", small.post("/v1/redact", data=b"\0" * 20000, content_type="image/jpeg"))
    check("/v1/align", "post", small.post("/v1/align", json={"images": ["AAAA", "AAAA"]}))


def test_not_ready_responses_match(tmp_path):
    config = SCRFDServiceConfig().override(model__path=str(tmp_path / "none.onnx"))
    client = create_app(config, SCRFDModel(config)).test_client()
    check("/health", "get", client.get("/health"))
    check("/v1/detect", "post", client.post("/v1/detect", data=b"x", content_type="image/jpeg"))


def test_api_spec_md_agrees():
    text = (ROOT / "docs" / "api.md").read_text()
    for path, ops in SPEC["paths"].items():
        for method in ops:
            assert f"`{method.upper()} {path}`" in text, f"docs/api.md does not document {method.upper()} {path}"
    documented_codes = set(re.findall(r"^\| \d{3} \| `(\w+)` \|", text, re.M))
    spec_codes = set(SPEC["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    assert documented_codes <= spec_codes, documented_codes - spec_codes
    raised = documented_codes | {"request_timeout", "length_required", "uri_too_long", "headers_too_large",
                                 "http_error"}  # werkzeug statuses mapped generically in api.HTTP_CODES
    assert spec_codes <= raised, spec_codes - raised
    for name in ("threshold", "nms_threshold", "max_faces", "min_face_size", "size", "format"):
        assert f"`{name}`" in text


@pytest.mark.parametrize("path, option_classes", [
    ("/v1/detect", (DetectOptions, QualityOptions)), ("/v1/align", (DetectOptions, QualityOptions, AlignOptions)),
    ("/v1/best", (DetectOptions, QualityOptions, AlignOptions)),
    ("/v1/draw", (DetectOptions, QualityOptions, RenderOptions)),
    ("/v1/redact", (DetectOptions, QualityOptions, RenderOptions, RedactOptions))])
def test_parameters_agree_with_their_one_declaration(path, option_classes):
    """Every declared option appears as a query parameter, a JSON field and a form field (sent as text, but
    typed in the schema, as OpenAPI serialises form fields), with the declared type, range, choices and
    default; and nothing undeclared does."""
    op = SPEC["paths"][path]["post"]
    query = {p["name"]: p for p in op["parameters"]}
    json_props = op["requestBody"]["content"]["application/json"]["schema"]["properties"]
    form_props = op["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    declared = {name: info for cls in option_classes for name, info in declarations(cls).items()}
    assert set(query) == set(declared)
    assert set(json_props) - {"image", "images", "url"} == set(declared) == set(form_props) - {"image", "images"}
    json_type = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}
    for name, info in declared.items():
        for schema, description in ((query[name]["schema"], query[name]["description"]),
                                    (json_props[name], json_props[name]["description"]),
                                    (form_props[name], form_props[name]["description"])):
            assert schema["type"] == json_type[info["type"]], name
            assert (schema.get("minimum"), schema.get("maximum")) == (info["min"], info["max"]), name
            if info["choices"]:
                assert set(schema["enum"]) - set(PARAM_ALIASES) == set(info["choices"]), name
            default = REDACT_MODE if (path, name) == ("/v1/redact", "mode") else info["default"]
            default = str(default).lower() if isinstance(default, bool) else \
                f"{default:g}" if isinstance(default, (int, float)) else default
            assert re.search(rf"default[^)]*\b{re.escape(default)}\)", description), (name, description)


def test_choices_are_the_vision_layers():
    assert set(ORDERS) == set(vision_order.ORDERS) and set(MODES) == set(vision_scales.MODES)
