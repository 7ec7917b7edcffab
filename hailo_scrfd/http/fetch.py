"""Fetching an image by URL: off unless configured, and then fenced against SSRF.

Only allow-listed schemes and hosts; credentials in URLs refused; the host is resolved once
and the connection pinned to an address that was checked (no DNS rebinding); private,
loopback and link-local addresses refused unless ``allow_private_addresses``; redirects are
not followed; a deadline and a byte limit bound every fetch.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse

from ..errors import FetchFailed, InvalidParameter, PayloadTooLarge

DEFAULT_PORTS = {"http": 80, "https": 443}


def fenced_url(url: str, settings, schemes: tuple[str, ...], ports: dict[str, int] = DEFAULT_PORTS,
               disabled: str = "fetching images by URL is disabled on this server (url_fetch.enabled)",
               ) -> tuple[urllib.parse.SplitResult, str, str, int]:
    """The URL's parts, host, checked address and port, by the ``url_fetch`` fences (opt-in, schemes,
    no credentials, allowed hosts, no private addresses); InvalidParameter naming the fence otherwise."""
    if not settings.enabled:
        raise InvalidParameter(disabled)
    parts = urllib.parse.urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in schemes or scheme not in ports:
        raise InvalidParameter(f"URL scheme {scheme or '(none)'!r} is not allowed; allowed: "
                               f"{', '.join(schemes) or 'none'}")
    if parts.username or parts.password:
        raise InvalidParameter("URLs with credentials are not accepted")
    if not host or not _host_allowed(host, settings.allowed_hosts):
        raise InvalidParameter(f"URL host {host or '(none)'!r} is not in url_fetch.allowed_hosts")
    try:
        port = parts.port or ports[scheme]
    except ValueError:
        raise InvalidParameter("the URL's port is not valid") from None
    return parts, host, _resolve(host, port, settings.allow_private_addresses), port


def fetch_image(url: str, settings) -> bytes:
    parts, host, address, port = fenced_url(url, settings, settings.allowed_schemes)
    scheme = parts.scheme.lower()
    deadline = time.monotonic() + settings.timeout_s
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    connection = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    conn = connection(host, address, port, settings.timeout_s)
    try:
        conn.request("GET", target, headers={"Host": parts.netloc.split("@")[-1], "User-Agent": "hailo-scrfd",
                                             "Accept": "image/*"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise FetchFailed(f"fetching the image failed: HTTP {resp.status}"
                              + (" (redirects are not followed)" if 300 <= resp.status < 400 else ""))
        limit = int(settings.max_mb * 1024 * 1024)
        length = resp.getheader("Content-Length")
        if length and length.isdigit() and int(length) > limit:
            raise PayloadTooLarge(f"the remote image is larger than url_fetch.max_mb ({settings.max_mb:g} MiB)")
        chunks, size = [], 0
        while chunk := resp.read(65536):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the remote image is larger than url_fetch.max_mb ({settings.max_mb:g} MiB)")
            if time.monotonic() > deadline:
                raise FetchFailed(f"fetching the image took longer than {settings.timeout_s:g} s")
            chunks.append(chunk)
        return b"".join(chunks)
    except (OSError, http.client.HTTPException) as exc:
        reason = "timed out" if isinstance(exc, (TimeoutError, socket.timeout)) else type(exc).__name__
        raise FetchFailed(f"fetching the image failed: {reason}") from None
    finally:
        conn.close()


def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    for rule in allowed:
        rule = rule.lower()
        if host == rule or (rule.startswith("*.") and host.endswith(rule[1:])):
            return True
    return False


def _resolve(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise FetchFailed(f"cannot resolve {host!r}") from None
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0])
        if allow_private or ip.is_global:
            return sockaddr[0]
    raise InvalidParameter(f"{host!r} resolves to a private, loopback or reserved address, which is not allowed")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to an already-checked address; the host name stays in the Host header."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an already-checked address; the certificate is verified against the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
