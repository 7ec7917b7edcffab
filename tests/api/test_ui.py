"""The page and /docs routes through Flask's test client: files, headers, keys, and the off switch."""

import re

import pytest
from flask import Flask

from hailo_scrfd.http import ui
from hailo_scrfd.http.app import create_app
from hailo_scrfd.options import DetectOptions, declarations
from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.vision import draw

STRICT_CSP = "default-src 'none'; frame-ancestors 'none'"


@pytest.fixture(scope="module")
def keyed_client(model, tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys") / "keys"
    keys.write_text("# a comment\nsecret-key-1\n")
    app = create_app(model.config.override(security__api_keys_file=str(keys)), model)
    app.testing = True
    return app.test_client()


@pytest.mark.parametrize(("path", "mimetype", "needle"), [
    ("/", "text/html", b'<script type="module" src="/ui/app.js">'),
    ("/ui/app.js", "text/javascript", b"function apiFetch"),
    ("/ui/app.css", "text/css", b".layout"),
    ("/ui/favicon.svg", "image/svg+xml", b"<svg"),
    ("/docs", "text/html", b"/docs/swagger-ui-bundle.js"),
    ("/ui/docs.js", "text/javascript", b"SwaggerUIBundle"),
    ("/docs/swagger-ui-bundle.js", "text/javascript", b"SwaggerUIBundle"),
    ("/docs/swagger-ui.css", "text/css", b".swagger-ui"),
    ("/docs/LICENSE", "text/plain", b"Apache License"),
])
def test_files_are_served_with_the_page_csp(client, path, mimetype, needle):
    resp = client.get(path)
    assert resp.status_code == 200 and resp.mimetype == mimetype
    assert needle in resp.data
    csp = resp.headers["Content-Security-Policy"]
    assert csp == ui.UI_CSP and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["ETag"]
    assert client.get(path, headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304


def test_the_page_loads_nothing_from_another_origin(client):
    for path in ("/", "/docs"):
        html = client.get(path).get_data(as_text=True)
        assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", "")


def test_api_responses_keep_the_strict_csp(client):
    for path in ("/openapi.json", "/health", "/nope", "/ui/nope.js", "/docs/index.html", "/ui/../app.py"):
        resp = client.get(path)
        assert resp.headers["Content-Security-Policy"] == STRICT_CSP, path
        assert resp.headers["Cache-Control"] == "no-store", path
    assert client.get("/ui/nope.js").status_code == 404
    assert client.get("/docs/index.html").status_code == 404  # only the listed Swagger files
    assert client.get("/ui/index.html").status_code == 404


def test_pages_need_no_key_but_the_api_does(keyed_client):
    for path in ("/", "/ui/app.js", "/docs", "/docs/swagger-ui-bundle.js"):
        assert keyed_client.get(path).status_code == 200, path
    assert keyed_client.post("/v1/detect").status_code == 401
    assert keyed_client.get("/ui/unknown.js").status_code == 401  # unlisted paths are not public


def test_ui_false_turns_everything_off(model):
    app = Flask(__name__)
    assert ui.register(app, SCRFDServiceConfig().override(server__ui=False)) == set()
    assert not [r for r in app.url_map.iter_rules() if r.endpoint.startswith("ui.")]
    off = create_app(model.config.override(server__ui=False), model).test_client()
    assert off.get("/").status_code == 404 and off.get("/docs").status_code == 404
    app = Flask(__name__)
    public = ui.register(app, SCRFDServiceConfig())  # on by default
    assert "/" in public and "/docs" in public
    assert {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("ui.")} >= {"/", "/docs"}


@pytest.mark.parametrize("name", ["mode", "rotations"])
def test_the_page_offers_the_declared_choices(client, name):
    html = client.get("/").get_data(as_text=True)
    select = re.search(rf'<select id="{name}" name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no {name} select on the page"
    choices = declarations(DetectOptions)[name]["choices"]
    assert re.findall(r'<option value="([^"]*)"', select.group(1)) == ["", *choices]  # "": the server's default
    assert f'aria-describedby="{name}-help"' in select.group(0) and f'id="{name}-help"' in html
    assert f'<label for="{name}">' in html


def test_swagger_ui_is_version_5(client):
    assert ui.swagger_dist() is not None
    assert client.get("/docs/VERSION").get_data(as_text=True).strip().lstrip("v").startswith("5.")


def test_the_page_draws_in_the_same_colours_as_the_server(client):
    script = client.get("/ui/overlay.js").get_data(as_text=True)
    colours = {name: [tuple(map(int, m)) for m in re.findall(r"rgb\((\d+),(\d+),(\d+)\)", line)]
               for name, line in ((n, next(ln for ln in script.splitlines() if ln.startswith(f"const {n} ")))
                                  for n in ("LANDMARK_COLORS", "BOX_COLOR"))}
    assert colours["LANDMARK_COLORS"] == list(draw.LANDMARK_COLORS)
    assert colours["BOX_COLOR"] == [draw.BOX_COLOR]
    css = client.get("/ui/app.css").get_data(as_text=True)
    for k, (r, g, b) in enumerate(draw.LANDMARK_COLORS):
        assert f".lm{k} {{ background: rgb({r}, {g}, {b}); }}" in css
