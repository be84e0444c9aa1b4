"""Headless Chromium for the report tests (Debian's chromium package, installed when missing)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"

# pytest imports every conftest.py under the module name "conftest"; once this one is loaded,
# `from conftest import clustered` in test modules collected later finds this module, so the
# helper of tests/conftest.py is offered here too.
_spec = importlib.util.spec_from_file_location("_isometry_tests_conftest", Path(__file__).parents[1] / "conftest.py")
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
clustered = _root.clustered


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a Chromium binary; installs Debian's package as root when it is missing, else skips."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("chromium is not installed at /usr/bin/chromium and cannot be installed here "
                    "(needs root and apt-get); install Debian's 'chromium' package to run this test")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"could not install chromium ({' '.join(cmd)} exited {done.returncode}): "
                        f"{done.stderr.strip().splitlines()[-1:]}")
    if not os.path.exists(CHROMIUM):
        pytest.skip("apt-get installed chromium but /usr/bin/chromium is still missing")
    return CHROMIUM
