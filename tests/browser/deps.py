"""What the browser test needs outside the repo: Debian's chromium and Playwright for Python in the project venv.

Playwright's own browser downloads are not used (they need the internet); Playwright drives the system
chromium through ``executable_path``.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
PLAYWRIGHT_REQUIREMENT = "playwright>=1.40"  # as in pyproject's optional `browser` extra


class SetupError(RuntimeError):
    """The test cannot run here (missing browser, no way to install it): not a failure of the labs."""


def ensure_chromium(executable: Path = CHROMIUM) -> Path:
    """Return ``executable``, installing Debian's ``chromium`` package with apt-get first if it is missing."""
    if executable.is_file():
        return executable
    if shutil.which("apt-get") is None:
        raise SetupError(f"{executable} is missing and there is no apt-get: install Chromium and pass --chromium PATH")
    sudo: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise SetupError(f"{executable} is missing: run `apt-get install -y chromium` as root")
        sudo = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "chromium"]
    print(f"installing Chromium: {' '.join(install)}", flush=True)
    if subprocess.run(install, env=env).returncode != 0:
        # a fresh container has empty package lists
        subprocess.run([*sudo, "apt-get", "update"], env=env, check=False)
        if subprocess.run(install, env=env).returncode != 0:
            raise SetupError("apt-get could not install chromium (see its output above)")
    if not executable.is_file():
        raise SetupError(f"the chromium package is installed but {executable} does not exist: pass --chromium PATH")
    return executable


def ensure_playwright(venv_python: Path) -> None:
    """Make ``import playwright.sync_api`` work in this interpreter, pip-installing it into the venv if needed."""
    try:
        importlib.import_module("playwright.sync_api")
        return
    except ImportError:
        pass
    if Path(sys.prefix).resolve() != venv_python.parent.parent.resolve():
        raise SetupError(f"run this script with the project's interpreter ({venv_python}) so Playwright lands there")
    print(f"installing Playwright for Python into {venv_python.parent.parent}", flush=True)
    if subprocess.run([str(venv_python), "-m", "pip", "install", "--quiet", PLAYWRIGHT_REQUIREMENT]).returncode != 0:
        raise SetupError(f"pip could not install {PLAYWRIGHT_REQUIREMENT} (see its output above)")
    importlib.invalidate_caches()
    importlib.import_module("playwright.sync_api")
