"""SCRFDServiceConfig: defaults, validation with fallback, file resolution, rendering."""

import json
import subprocess
import sys

import pytest
import yaml

from hailo_scrfd.system import config as config_mod
from hailo_scrfd.options import declarations
from hailo_scrfd.system.config import CONFIG_ENV, MODEL_ENV, SCRFDServiceConfig
from hailo_scrfd.errors import ConfigError
from hailo_scrfd.system.render import render_config

from ..conftest import ROOT

SHIPPED = ROOT / "config" / "hailo-scrfd.yaml"
OLD_STYLE = ROOT / "tests" / "unit" / "data" / "hailo-scrfd-0.2.yaml"  # the shipped file before the onnx section


def schema():
    """Every key as ``(section, key, info)``."""
    return [(name, key, info) for name, section in SCRFDServiceConfig().__dataclass_fields__.items()
            for key, info in declarations(section.default_factory).items()]


def load(data):
    warnings = []
    return SCRFDServiceConfig.from_mapping(data, warnings.append), warnings


def test_defaults():
    cfg = SCRFDServiceConfig()
    assert (cfg.server.host, cfg.server.port, cfg.server.max_body_mb) == ("127.0.0.1", 5001, 20.0)
    assert (cfg.detection.threshold, cfg.detection.nms_threshold, cfg.detection.max_faces) == (0.5, 0.4, 0)
    assert cfg.model.backend == "auto" and cfg.limits.max_image_pixels == 40_000_000
    assert cfg.max_body_bytes == 20 * 1024 * 1024


def test_valid_values_are_taken():
    cfg, warnings = load({"server": {"port": 8080, "max_body_mb": 5}, "detection": {"threshold": 0.7},
                          "performance": {"worker_threads": 2, "max_queue_size": 4}})
    assert warnings == []
    assert cfg.server.port == 8080 and cfg.server.max_body_mb == 5.0 and isinstance(cfg.server.max_body_mb, float)
    assert cfg.detection.threshold == 0.7 and cfg.performance.max_queue_size == 4


@pytest.mark.parametrize("section,key,value", [
    ("server", "port", 70000), ("server", "port", "5001"), ("server", "port", True), ("server", "port", 50.5),
    ("detection", "threshold", 1.5), ("detection", "threshold", float("nan")), ("model", "backend", "tpu"),
    ("logging", "level", "LOUD"), ("performance", "worker_threads", "8"), ("streams", "max_fps", 0),
])
def test_invalid_values_fall_back_to_default_with_warning(section, key, value):
    cfg, warnings = load({section: {key: value}})
    assert getattr(getattr(cfg, section), key) == getattr(getattr(SCRFDServiceConfig(), section), key)
    assert len(warnings) == 1 and f"{section}.{key}" in warnings[0] and "using default" in warnings[0]


FAIL_CLOSED = [
    ({"security": {"api_keys": "s3cret"}}, "security.api_keys must be a list of strings"),
    ({"url_fetch": {"allowed_hosts": "cam.lan"}}, "url_fetch.allowed_hosts must be a list of strings"),
    ({"url_fetch": {"allow_private_addresses": "no"}}, "url_fetch.allow_private_addresses must be true or false"),
    ({"security": {"health_public": "false"}}, "security.health_public must be true or false"),
    ({"security": {"api_keys_file": ["/etc/keys"]}}, "security.api_keys_file must be a string"),
    ({"security": {"api_keys": ["a", 5]}}, "security.api_keys must be a list of strings"),
    ({"streams": {"media_dir": ["/srv"]}}, "streams.media_dir must be a string"),
    ({"streams": {"schemes": "rtsp"}}, "streams.schemes must be a list of strings"),
    ({"server": {"host": 127}}, "server.host must be a string"),
    ({"server": {"ui": "off"}}, "server.ui must be true or false"),
    ({"limits": {"max_image_pixels": 0}}, "limits.max_image_pixels must be between 1 and"),
    ({"server": {"max_body_mb": "5"}}, "server.max_body_mb must be a number"),
    ({"security": ["s3cret"]}, "section 'security' must be a mapping"),
    ({"security": {"api_key": ["s3cret"]}}, "unknown key 'security.api_key'; did you mean 'api_keys'?"),
    ({"securty": {"api_keys": ["s3cret"]}}, "unknown section 'securty'; did you mean 'security'?"),
    ({"server": {"hots": "0.0.0.0"}}, "unknown key 'server.hots'; did you mean 'host'?"),
]


@pytest.mark.parametrize("data,message", FAIL_CLOSED, ids=[m.split(" must")[0] for _, m in FAIL_CLOSED])
def test_keys_that_guard_access_fail_closed(data, message):
    """A bad value where the default would leave the service open stops the start, naming the key."""
    with pytest.raises(ConfigError) as caught:
        load(data)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_every_key_states_its_failure_rule():
    """Access, URL fetching, video sources and limits fail closed; the tuning keys fall back."""
    closed = {f"{s}.{k}" for s, k, info in schema() if info["fail_closed"]
              or getattr(getattr(SCRFDServiceConfig(), s), "fail_closed", False)}
    assert {"security.api_keys", "security.api_keys_file", "security.health_public", "security.metrics_public",
            "url_fetch.enabled", "url_fetch.allowed_hosts", "url_fetch.allowed_schemes",
            "url_fetch.allow_private_addresses", "streams.enabled", "streams.schemes", "streams.media_dir",
            "server.host", "server.ui", "server.max_body_mb", "limits.max_image_pixels",
            "limits.max_batch_images"} <= closed
    assert not {"server.port", "detection.threshold", "performance.worker_threads", "onnx.threads"} & closed


@pytest.mark.parametrize("command", ["render-config", "serve"])
def test_a_fail_closed_key_stops_the_command_with_one_line(tmp_path, command):
    src = tmp_path / "bad.yaml"
    src.write_text("security:\n  api_keys: s3cret\n")
    args = ["--input", str(src), "--output", str(tmp_path / "out.json")] if command == "render-config" \
        else ["--config", str(src), "--model", str(tmp_path / "absent.onnx")]
    proc = subprocess.run([sys.executable, "-m", "hailo_scrfd", command, *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == ("hailo-scrfd: error: config: security.api_keys must be a list "
                                                     "of strings; this key fails closed: the service does not "
                                                     "start on its default")
    assert not (tmp_path / "out.json").exists()


def test_a_bad_pair_of_quality_keys_falls_back_to_the_section_defaults():
    cfg, warnings = load({"quality": {"min_brightness": 150, "max_brightness": 100, "max_yaw": 20}})
    assert cfg.quality == SCRFDServiceConfig().quality and len(warnings) == 1
    assert "min_brightness must be below" in warnings[0]


def test_unknown_keys_and_sections_warn():
    _, warnings = load({"server": {"prot": 1}, "extra": {}})
    assert any("server.prot" in w for w in warnings) and any("'extra'" in w for w in warnings)


def test_bad_structure_falls_back():
    cfg, warnings = load({"server": [1, 2]})
    assert cfg.server.port == 5001 and warnings
    cfg, warnings = load(["not", "a", "mapping"])
    assert cfg == SCRFDServiceConfig() and warnings
    assert load(None) == (SCRFDServiceConfig(), [])


def test_load_resolution(tmp_path, monkeypatch):
    f = tmp_path / "c.yaml"
    f.write_text("server:\n  port: 6000\n")
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.setattr(config_mod, "DEFAULT_CONFIG_PATH", tmp_path / "absent.yaml")
    assert SCRFDServiceConfig.load().server.port == 5001
    assert SCRFDServiceConfig.load(f).server.port == 6000
    monkeypatch.setenv(CONFIG_ENV, str(f))
    assert SCRFDServiceConfig.load().server.port == 6000
    with pytest.raises(ConfigError, match="not found"):
        SCRFDServiceConfig.load(tmp_path / "missing.yaml")


def test_invalid_yaml_is_fatal_with_location(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("server:\n  port: [5001\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        SCRFDServiceConfig.load(f)


def test_model_path_order(monkeypatch):
    monkeypatch.setenv(MODEL_ENV, "/env/model.onnx")
    assert SCRFDServiceConfig().model_path() == "/env/model.onnx"
    cfg = SCRFDServiceConfig().override(model__path="/cfg/model.onnx")
    assert cfg.model_path() == "/cfg/model.onnx"
    monkeypatch.delenv(MODEL_ENV)
    assert SCRFDServiceConfig().model_path() is None


def test_override_skips_none():
    cfg = SCRFDServiceConfig().override(server__port=9000, server__host=None)
    assert cfg.server.port == 9000 and cfg.server.host == "127.0.0.1"


def test_shipped_config_documents_every_key_with_its_default():
    text = SHIPPED.read_text()
    data = yaml.safe_load(text)
    lines = text.splitlines()
    for section, key, info in schema():
        assert key in data.get(section, {}), f"{section}.{key} missing from {SHIPPED.name}"
        value = tuple(data[section][key]) if isinstance(data[section][key], list) else data[section][key]
        assert value == info["default"], f"{section}.{key} differs from the schema default"
        at = lines.index(next(line for line in lines if line.strip().startswith(f"{key}:")))
        comment = []
        for line in reversed(lines[:at]):
            if not line.strip().startswith("#"):
                break
            comment.append(line)
        assert "Default" in " ".join(comment), f"{section}.{key} has no documented default"
    cfg, warnings = load(data)
    assert warnings == [] and cfg == SCRFDServiceConfig()


def test_render_round_trips(tmp_path):
    src = tmp_path / "in.yaml"
    src.write_text("server:\n  port: 7001\ndetection:\n  threshold: 0.6\n")
    out = render_config(src, tmp_path / "sub" / "out.json")
    rendered = json.loads(out.read_text())
    assert rendered["server"]["port"] == 7001 and rendered["detection"]["threshold"] == 0.6
    assert SCRFDServiceConfig.from_mapping(rendered) == SCRFDServiceConfig.load(src)
    assert not list(out.parent.glob(".out.json.*"))  # no temp file left behind


def test_render_script_fails_cleanly_on_invalid_yaml(tmp_path):
    src = tmp_path / "bad.yaml"
    src.write_text("detection: {threshold: [\n")
    dst = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_config.py"), "--input", str(src),
                           "--output", str(dst)], capture_output=True, text=True)
    assert proc.returncode == 2 and "not valid YAML" in proc.stderr and "Traceback" not in proc.stderr
    assert not dst.exists()
    ok = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_config.py"), "--input", str(SHIPPED),
                         "--output", "-"], capture_output=True, text=True)
    assert ok.returncode == 0 and json.loads(ok.stdout) == SCRFDServiceConfig().to_dict()


def test_old_style_files_load_unchanged_with_deprecation_warnings():
    cfg, warnings = load(yaml.safe_load(OLD_STYLE.read_text()))
    assert cfg == SCRFDServiceConfig()
    assert sorted(warnings) == sorted(
        f"config: {old} is deprecated; it is used as {new}" for old, new in (
            ("model.input_size", "onnx.input_size"), ("detection.input_mode", "onnx.input_mode"),
            ("performance.inference_threads", "onnx.threads"),
            ("performance.inference_concurrency", "onnx.concurrency"),
            ("performance.inference_spinning", "onnx.spinning")))
    cfg, warnings = load({"performance": {"inference_threads": 3, "inference_spinning": True},
                          "detection": {"input_mode": "fixed"}})
    assert (cfg.onnx.threads, cfg.onnx.spinning, cfg.onnx.input_mode) == (3, True, "fixed") and len(warnings) == 3
    cfg, warnings = load({"performance": {"inference_threads": 3}, "onnx": {"threads": 1}})
    assert cfg.onnx.threads == 1 and warnings == [
        "config: performance.inference_threads is deprecated and ignored, since onnx.threads is set"]
    assert SCRFDServiceConfig().override(detection__input_mode="fixed").onnx.input_mode == "fixed"
