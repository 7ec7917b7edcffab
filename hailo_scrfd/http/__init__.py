"""The HTTP layer: app factory, routes, request parsing, auth, metrics, OpenAPI and the WSGI server."""

from .app import create_app

__all__ = ["create_app"]
