"""CI's soak: 8 clients for 60 s against a live server, mixed photos on both endpoints: no error, RSS flat."""

import re
import subprocess
import sys

import pytest

from ..conftest import ROOT
from support.server import clean_env

pytestmark = pytest.mark.e2e


def test_sixty_second_soak(shared):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--duration", "60", "--clients", "8",
                           "--shared", str(shared), "--max-drift", "0.05"],
                          capture_output=True, text=True, timeout=300, env=clean_env())
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert re.search(r"errors 0\b", proc.stdout)
    drift = float(re.search(r"drift ([+-][\d.]+)%", proc.stdout).group(1))
    assert drift < 5.0
