"""The systemd unit passes `systemd-analyze verify` and scores <= 2.0 on `security`; the installer stages correctly."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from ..conftest import ROOT

UNIT = ROOT / "systemd" / "hailo-scrfd.service"
MAX_EXPOSURE = 2.0


@pytest.fixture(scope="module")
def systemd_analyze():
    exe = shutil.which("systemd-analyze")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing in CI: .ci/run must install systemd")
        pytest.skip("systemd-analyze is not installed")
    return exe


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """A full install, DESTDIR-style, into a temporary root."""
    root = tmp_path_factory.mktemp("root")
    proc = subprocess.run([str(ROOT / "scripts" / "install.sh")], env={**os.environ, "DESTDIR": str(root)},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def unit_directives(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


def test_unit_has_the_required_settings():
    d = unit_directives(UNIT.read_text())
    assert d["Type"] == ["notify"] and d["TimeoutStartSec"] == ["120"]
    assert int(d["WatchdogSec"][0]) > 0 and d["Restart"] == ["on-failure"]
    assert d["MemoryMax"] == ["2G"] and d["CPUQuota"] == ["80%"]
    assert d["DeviceAllow"] == ["/dev/hailo0 rw"] and d["DevicePolicy"] == ["closed"]
    assert d["User"] == ["hailo-scrfd"] and d["StandardOutput"] == ["journal"]
    assert any("/etc/hailo" in v for v in d["ReadOnlyPaths"])
    assert d["ExecStart"] == ["/opt/hailo-scrfd/venv/bin/hailo-scrfd serve --config /etc/hailo/hailo-scrfd.yaml"]


def test_unit_verifies_without_a_warning(systemd_analyze, staged, tmp_path):
    # verify checks that ExecStart is executable: point the unit at the staged install.
    unit = tmp_path / "hailo-scrfd.service"
    unit.write_text(UNIT.read_text().replace("/opt/hailo-scrfd", str(staged / "opt" / "hailo-scrfd")))
    proc = subprocess.run([systemd_analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # verify exits 0 even for unknown keys or unparseable values: any output is a finding.
    assert proc.returncode == 0 and proc.stdout.strip() == "" and proc.stderr.strip() == "", proc.stderr


def test_security_exposure_at_most_2(systemd_analyze):
    proc = subprocess.run([systemd_analyze, "security", "--offline=yes", "--no-pager", str(UNIT)],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, proc.stdout


def test_staged_install(staged):
    prefix = staged / "opt" / "hailo-scrfd"
    assert "include-system-site-packages = true" in (prefix / "venv" / "pyvenv.cfg").read_text()
    version = subprocess.run([str(prefix / "venv" / "bin" / "hailo-scrfd"), "--version"], capture_output=True,
                             text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("hailo-scrfd ")
    assert (staged / "etc/systemd/system/hailo-scrfd.service").read_text() == UNIT.read_text()
    assert (staged / "etc/hailo/hailo-scrfd.yaml").read_text() == (ROOT / "config/hailo-scrfd.yaml").read_text()
    rendered = json.loads((staged / "etc/xdg/hailo-scrfd/hailo-scrfd.json").read_text())
    assert rendered["server"]["port"] == 5001
    for doc in ("README.md", "docs/troubleshooting.md", "docs/api.md", "docs/images/astronaut-draw.jpg"):
        assert (prefix / "share" / doc).is_file()


def test_reinstall_keeps_an_existing_config(staged):
    config = staged / "etc/hailo/hailo-scrfd.yaml"
    config.write_text("server:\n  port: 6001\n")
    proc = subprocess.run([str(ROOT / "scripts" / "install.sh")], env={**os.environ, "DESTDIR": str(staged)},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "keeping the existing" in proc.stdout
    assert config.read_text() == "server:\n  port: 6001\n"
    assert json.loads((staged / "etc/xdg/hailo-scrfd/hailo-scrfd.json").read_text())["server"]["port"] == 6001


def test_sysusers_creates_the_service_user(staged):
    exe = shutil.which("systemd-sysusers")
    if exe is None:
        pytest.skip("systemd-sysusers is not installed")
    proc = subprocess.run([exe, f"--root={staged}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    passwd = (staged / "etc" / "passwd").read_text()
    assert re.search(r"^hailo-scrfd:x:\d+:\d+:.*:/usr/sbin/nologin$", passwd, re.M)


# -- the template unit for several instances behind nginx (hailo-scrfd@N) ---------------------------------------

TEMPLATE = ROOT / "systemd" / "hailo-scrfd@.service"
TEMPLATE_ONLY = {"Description", "ExecStart", "SyslogIdentifier", "StateDirectory", "StateDirectoryMode"}


def test_template_has_the_same_hardening_as_the_unit():
    unit, template = unit_directives(UNIT.read_text()), unit_directives(TEMPLATE.read_text())
    assert {k: v for k, v in template.items() if k not in TEMPLATE_ONLY} == \
        {k: v for k, v in unit.items() if k not in TEMPLATE_ONLY}
    assert template["ExecStart"] == [unit["ExecStart"][0] + " --instance %i"]
    assert template["StateDirectory"] == ["hailo-scrfd"]


def test_template_instance_verifies_without_a_warning(systemd_analyze, staged, tmp_path):
    unit = tmp_path / "hailo-scrfd@1.service"
    unit.write_text(TEMPLATE.read_text().replace("/opt/hailo-scrfd", str(staged / "opt" / "hailo-scrfd")))
    proc = subprocess.run([systemd_analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "" and proc.stderr.strip() == "", proc.stderr


def test_template_security_exposure_at_most_2(systemd_analyze, tmp_path):
    unit = tmp_path / "hailo-scrfd@1.service"
    unit.write_text(TEMPLATE.read_text())
    proc = subprocess.run([systemd_analyze, "security", "--offline=yes", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert match and float(match.group(1)) <= MAX_EXPOSURE, proc.stdout + proc.stderr


def test_staged_install_has_the_template_and_the_nginx_config(staged):
    assert (staged / "etc/systemd/system/hailo-scrfd@.service").read_text() == TEMPLATE.read_text()
    nginx = staged / "opt/hailo-scrfd/share/nginx/hailo-scrfd.conf"
    assert nginx.read_text() == (ROOT / "deploy/nginx/hailo-scrfd.conf").read_text()


# -- socket activation: hailo-scrfd.socket and hailo-scrfd@.socket hold the port across restarts ----------------

SOCKET = ROOT / "systemd" / "hailo-scrfd.socket"
TEMPLATE_SOCKET = ROOT / "systemd" / "hailo-scrfd@.socket"


def exposure(systemd_analyze: str, unit) -> float:
    proc = subprocess.run([systemd_analyze, "security", "--offline=yes", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert match, proc.stdout + proc.stderr
    return float(match.group(1))


def test_socket_unit_holds_the_default_address():
    from hailo_scrfd.system.config import SCRFDServiceConfig

    server = SCRFDServiceConfig().server
    d = unit_directives(SOCKET.read_text())
    assert d["ListenStream"] == [f"{server.host}:{server.port}"]  # one socket: serve takes exactly one
    assert d["FileDescriptorName"] == ["http"] and "Accept" not in d  # one service for all connections
    t = unit_directives(TEMPLATE_SOCKET.read_text())
    assert "ListenStream" not in t and {k: v for k, v in t.items() if k != "Description"} == \
        {k: v for k, v in d.items() if k not in ("Description", "ListenStream")}


def test_socket_unit_verifies_without_a_warning(systemd_analyze, staged, tmp_path):
    for path in (SOCKET, UNIT):
        (tmp_path / path.name).write_text(path.read_text().replace("/opt/hailo-scrfd", str(staged / "opt" /
                                                                                            "hailo-scrfd")))
    proc = subprocess.run([systemd_analyze, "verify", str(tmp_path / SOCKET.name)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "" and proc.stderr.strip() == "", proc.stderr
    # The service the socket activates keeps its hardening (exposure 1.4 before socket activation).
    assert exposure(systemd_analyze, tmp_path / UNIT.name) <= MAX_EXPOSURE


def test_template_socket_instance_verifies_with_its_installed_port(systemd_analyze, staged, tmp_path):
    etc = staged / "etc/systemd/system"
    for n in (1, 2, 3):  # the ports deploy/nginx/hailo-scrfd.conf balances
        dropin = etc / f"hailo-scrfd@{n}.socket.d" / "listen.conf"
        assert dropin.read_text() == f"[Socket]\nListenStream=127.0.0.1:{5001 + n}\n"
        assert f"server 127.0.0.1:{5001 + n} " in (ROOT / "deploy/nginx/hailo-scrfd.conf").read_text()
    (tmp_path / "hailo-scrfd@1.socket").write_text(TEMPLATE_SOCKET.read_text())
    (tmp_path / "hailo-scrfd@1.service").write_text(
        TEMPLATE.read_text().replace("/opt/hailo-scrfd", str(staged / "opt" / "hailo-scrfd")))
    shutil.copytree(etc / "hailo-scrfd@1.socket.d", tmp_path / "hailo-scrfd@1.socket.d")
    proc = subprocess.run([systemd_analyze, "verify", str(tmp_path / "hailo-scrfd@1.socket")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "" and proc.stderr.strip() == "", proc.stderr
    assert exposure(systemd_analyze, tmp_path / "hailo-scrfd@1.service") <= MAX_EXPOSURE


def test_staged_install_has_the_socket_units(staged):
    etc = staged / "etc/systemd/system"
    assert (etc / "hailo-scrfd.socket").read_text() == SOCKET.read_text()
    assert (etc / "hailo-scrfd@.socket").read_text() == TEMPLATE_SOCKET.read_text()
