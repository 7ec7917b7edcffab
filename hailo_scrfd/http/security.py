"""Optional API keys: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from pathlib import Path

from ..system.config import SCRFDServiceConfig
from ..errors import ConfigError


class ApiKeys:
    def __init__(self, keys: set[str]):
        # Compare fixed-length digests, and every one of them, so neither a key's length nor
        # which key matched shows in the timing.
        self._digests = [hashlib.sha256(k.encode()).digest() for k in sorted(keys)]

    @classmethod
    def from_config(cls, config: SCRFDServiceConfig) -> "ApiKeys":
        keys = {k.strip() for k in config.security.api_keys if k.strip()}
        path = config.security.api_keys_file
        if path:
            try:
                lines = Path(path).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(f"cannot read security.api_keys_file {path}: {exc.strerror or exc}") from None
            keys |= {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}
        return cls(keys)

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def accepts(self, presented: str | None) -> bool:
        if not presented:
            return False
        digest = hashlib.sha256(presented.encode()).digest()
        matched = False
        for known in self._digests:
            matched |= hmac.compare_digest(digest, known)
        return matched


def presented_key(headers) -> str | None:
    auth = headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return headers.get("X-API-Key")


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
