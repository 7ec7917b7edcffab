"""API keys, public endpoints, binding warnings, and what errors and logs must never reveal."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys

import pytest

from hailo_scrfd.http.app import create_app
from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.errors import ConfigError, ModelLoadError
from hailo_scrfd.runtime.model import SCRFDModel
from hailo_scrfd.http.security import ApiKeys, is_loopback

from support.server import clean_env

KEY = "k3y-0123456789abcdef"



def test_without_keys_the_api_is_open(t1, app_factory):
    assert app_factory().post("/v1/detect", data=t1, content_type="image/jpeg").status_code == 200


def test_keys_are_required_and_accepted_in_both_headers(t1, app_factory):
    client = app_factory(security__api_keys=(KEY, "another-key"))
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY},
                    {"X-API-Key": KEY[:-1]}):
        resp = client.post("/v1/detect", data=t1, content_type="image/jpeg", headers=headers)
        assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized", headers
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    for headers in ({"Authorization": f"Bearer {KEY}"}, {"authorization": f"bearer {KEY}"}, {"X-API-Key": KEY},
                    {"X-API-Key": "another-key"}):
        resp = client.post("/v1/detect", data=t1, content_type="image/jpeg", headers=headers)
        assert resp.status_code == 200, headers


def test_public_endpoints_follow_the_config(app_factory):
    client = app_factory(security__api_keys=(KEY,))
    assert client.get("/health").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"X-API-Key": KEY}).status_code == 200
    strict = app_factory(security__api_keys=(KEY,), security__health_public=False,
                        security__metrics_public=True)
    assert strict.get("/health").status_code == 401 and strict.get("/metrics").status_code == 200


def test_keys_file(tmp_path, t1, app_factory):
    keys = tmp_path / "keys"
    keys.write_text(f"# rotated 2026-11\n{KEY}\n\n  second-key  \n")
    client = app_factory(security__api_keys_file=str(keys))
    assert client.post("/v1/detect", data=t1, content_type="image/jpeg",
                       headers={"X-API-Key": "second-key"}).status_code == 200
    assert client.post("/v1/detect", data=t1, content_type="image/jpeg",
                       headers={"X-API-Key": "# rotated 2026-11"}).status_code == 401
    with pytest.raises(ConfigError, match="cannot read security.api_keys_file"):
        ApiKeys.from_config(SCRFDServiceConfig().override(security__api_keys_file=str(tmp_path / "none")))


def test_serve_with_a_missing_keys_file_exits_2(shared, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"security:\n  api_keys_file: {tmp_path / 'absent'}\n")
    proc = subprocess.run([sys.executable, "-m", "hailo_scrfd", "serve", "--config", str(config), "--model",
                           str(shared / "models" / "scrfd_500m_bnkps.onnx"), "--port", "1"],
                          capture_output=True, text=True, timeout=60, env=clean_env())
    assert proc.returncode == 2 and "cannot read security.api_keys_file" in proc.stderr.strip().splitlines()[-1]


def test_non_loopback_bind_without_keys_warns(shared):
    # 192.0.2.1 (TEST-NET-1) is never local: the warning is logged, then binding fails; no packet is sent.
    proc = subprocess.run([sys.executable, "-m", "hailo_scrfd", "serve", "--host", "192.0.2.1", "--port", "5001",
                           "--model", str(shared / "models" / "scrfd_500m_bnkps.onnx")],
                          capture_output=True, text=True, timeout=60, env=clean_env())
    assert "listening on 192.0.2.1 without API keys" in proc.stderr
    assert proc.returncode == 1 and "cannot assign requested address" in proc.stderr


def test_is_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")


def test_errors_never_reveal_paths(tmp_path):
    secret = tmp_path / "secret-dir" / "model.onnx"
    config = SCRFDServiceConfig().override(model__path=str(secret))
    model = SCRFDModel(config)
    with pytest.raises(ModelLoadError):
        model.load()
    client = create_app(config, model).test_client()
    body = client.post("/v1/detect", data=b"x", content_type="image/jpeg").get_data(as_text=True)
    assert "secret-dir" not in body and "Traceback" not in body


def test_image_data_never_reaches_logs_or_errors(t1, caplog, app_factory):
    b64 = base64.b64encode(t1).decode()
    client = app_factory()
    with caplog.at_level(logging.DEBUG):
        responses = [
            client.post("/v1/detect", json={"image": b64, "threshold": "high"}),
            client.post("/v1/detect", json={"image": b64, b64[:5000]: 1}),
            client.post("/v1/detect", json={"image": b64[:-7] + "!!!!!!!"}),
            client.post("/v1/detect", data=b'{"image": "' + b64.encode()[:5000] + b'"',
                        content_type="application/json"),
            client.post("/v1/detect", data=t1[: len(t1) // 3], content_type="image/jpeg"),
        ]
    probe = b64[1000:1040]
    for resp in responses:
        assert 400 <= resp.status_code < 500
        assert probe not in resp.get_data(as_text=True) and len(resp.get_data()) < 2000
    assert probe not in caplog.text


def test_security_headers(app_factory):
    resp = app_factory().get("/health")
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")
