"""The web page (``GET /``) and the interactive API docs (``GET /docs``), served from the package.

Everything here is static: plain HTML, CSS and JavaScript under ``http/static/``, and Swagger UI's
own files from the ``flask-swagger-ui`` wheel (Swagger UI 5, which renders OpenAPI 3.1; its licence
ships beside it and is served at ``/docs/LICENSE``). Nothing is loaded from another origin, so the
page works on a Pi with no internet.

The pages hold no data, so they need no API key (the page asks for one and sends it with its own
API calls); they get their own Content-Security-Policy, which allows this origin only, while every
API response keeps the strict ``default-src 'none'``. ``server.ui: false`` turns all of it off.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, request, send_file

UI_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
          "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
          "form-action 'none'; frame-ancestors 'none'")
# Names only: nothing outside these lists is ever served, whatever the URL says.
PAGE_FILES = {"app.js": "text/javascript", "overlay.js": "text/javascript", "panels.js": "text/javascript",
              "app.css": "text/css", "docs.js": "text/javascript",
              "docs.css": "text/css", "favicon.svg": "image/svg+xml"}
SWAGGER_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
                 "LICENSE": "text/plain; charset=utf-8", "VERSION": "text/plain; charset=utf-8"}

bp = Blueprint("ui", __name__)
_STATIC = files(__package__) / "static"


def swagger_dist() -> Path | None:
    """Where Swagger UI's files are, or None when flask-swagger-ui is not installed."""
    spec = find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    dist = Path(next(iter(spec.submodule_search_locations))) / "dist"
    return dist if (dist / "swagger-ui-bundle.js").is_file() else None


def _static(name: str, mimetype: str) -> Response:
    path = _STATIC / name
    if not path.is_file():
        abort(404)
    return send_file(Path(str(path)), mimetype=mimetype, max_age=0, conditional=True, etag=True)


@bp.get("/")
def page() -> Response:
    return _static("index.html", "text/html; charset=utf-8")


@bp.get("/ui/<name>")
def page_file(name: str) -> Response:
    if name not in PAGE_FILES:
        abort(404)
    return _static(name, PAGE_FILES[name])


@bp.get("/docs")
def docs() -> Response:
    return _static("docs.html", "text/html; charset=utf-8")


@bp.get("/docs/<name>")
def docs_file(name: str) -> Response:
    dist = swagger_dist()
    if name not in SWAGGER_FILES or dist is None:
        abort(404)
    return send_file(dist / name, mimetype=SWAGGER_FILES[name], max_age=0, conditional=True, etag=True)


def _ui_headers(response: Response) -> Response:
    """The page's own CSP and revalidating cache, on the UI's files only (runs after the app's security headers).

    Errors, even on UI paths, are JSON from the API's handlers and keep the API's strict headers.
    """
    if request.blueprint == bp.name and response.status_code in (200, 304):
        response.headers["Content-Security-Policy"] = UI_CSP
        response.headers["Cache-Control"] = "no-cache"
    return response


def register(app: Flask, config) -> set[str]:
    """Mount the page and /docs unless ``server.ui`` is off; returns the paths that need no API key.

    Call it before the app's own ``after_request`` hook is declared: Flask runs those hooks in
    reverse order, so this one runs last and its CSP replaces the API's on UI routes only.
    """
    if not config.server.ui:
        return set()
    app.register_blueprint(bp)
    app.after_request(_ui_headers)
    return {"/", "/docs", *(f"/ui/{name}" for name in PAGE_FILES), *(f"/docs/{name}" for name in SWAGGER_FILES)}
