"""A throw-away JupyterLab server for the browser test: free port, random token, private dirs, always stopped.

``LabServer`` is a context manager. It starts ``<venv>/bin/jupyter lab`` on 127.0.0.1 in its own process
group, with every Jupyter/JupyterLab config, runtime, data, settings and workspace folder in a temporary
directory (nothing of the user's set-up leaks in, nothing is left behind), autosave off (the notebook
under test is never written), notebook checkpoints redirected to the temporary directory, and network
look-ups (news, update checks, extension manager) off. On exit it asks the server to stop (SIGTERM: the
server shuts its kernels down), then kills whatever it started that is still alive, by process id.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

import psutil

# JupyterLab user settings written into the private JUPYTERLAB_SETTINGS_DIR, by plugin id.
LAB_SETTINGS: dict[str, dict[str, object]] = {
    # never save: the test opens committed notebooks and must leave them as they are
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # every cell in the DOM, so the test sees all prompts and outputs (no virtual scrolling)
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # offline and quiet: no news, no update check, no extension manager querying PyPI
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
}


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host`` (the OS picks it: bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def write_lab_settings(settings_dir: Path) -> None:
    """Write :data:`LAB_SETTINGS` as ``<settings_dir>/<plugin id>.jupyterlab-settings`` files."""
    for plugin, values in LAB_SETTINGS.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2))


class LabServer:
    """JupyterLab serving ``root_dir`` from the venv at ``venv``; use as ``with LabServer(...) as lab:``.

    ``extra_env`` is added to the server's (and so the kernels') environment. ``lab.url(path)`` gives the
    tokenized address of a file under ``root_dir``; ``lab.log_tail()`` the end of the server's log.
    """

    def __init__(self, root_dir: Path, venv: Path, *, extra_env: dict[str, str] | None = None,
                 start_timeout_s: float = 120.0) -> None:
        jupyter = venv / "bin" / "jupyter"
        if not jupyter.is_file():
            raise ValueError(f"no JupyterLab at {jupyter}: run `make setup` to create the project venv first")
        if not root_dir.is_dir():
            raise ValueError(f"root_dir {root_dir} is not a folder: pass the folder holding the notebook")
        self.root_dir = root_dir.resolve()
        self.venv = venv.resolve()
        self.extra_env = dict(extra_env or {})
        self.start_timeout_s = start_timeout_s
        self.host = "127.0.0.1"
        self.port = 0
        self.token = secrets.token_hex(24)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, relative_path: str) -> str:
        """Tokenized JupyterLab address that opens ``relative_path`` (relative to ``root_dir``)."""
        return f"{self.base_url}/lab/tree/{relative_path}?token={self.token}"

    def log_tail(self, n_chars: int = 4000) -> str:
        if self._log_path is None or not self._log_path.is_file():
            return ""
        return self._log_path.read_text(errors="replace")[-n_chars:]

    def __enter__(self) -> LabServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="genlabs-browser-", ignore_cleanup_errors=True)
        tmp = Path(self._tmp.name)
        try:
            self._start(tmp)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _environment(self, tmp: Path) -> dict[str, str]:
        dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_RUNTIME_DIR": "runtime", "JUPYTER_DATA_DIR": "data",
                "JUPYTERLAB_SETTINGS_DIR": "lab-settings", "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
                "IPYTHONDIR": "ipython"}
        env = dict(os.environ)
        for var, name in dirs.items():
            (tmp / name).mkdir()
            env[var] = str(tmp / name)
        write_lab_settings(tmp / "lab-settings")
        # the kernelspec runs `python`: make it this venv's, as labutils.notebooks.execute does
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("PYTHONHASHSEED", "0")
        env.update(self.extra_env)
        return env

    def _command(self, tmp: Path) -> list[str]:
        cmd = [str(self.venv / "bin" / "jupyter"), "lab", "--no-browser", f"--ip={self.host}", f"--port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root_dir}",
               # an absolute checkpoint dir: opening a notebook must not create .ipynb_checkpoints next to it
               f"--FileCheckpoints.checkpoint_dir={tmp / 'checkpoints'}"]
        if os.geteuid() == 0:  # containers and CI runners often run as root; the server refuses without this
            cmd.append("--allow-root")
        return cmd

    def _start(self, tmp: Path, attempts: int = 3) -> None:
        env = self._environment(tmp)
        for attempt in range(1, attempts + 1):
            self.port = free_port(self.host)
            self._log_path = tmp / f"server-{attempt}.log"
            with open(self._log_path, "wb") as log:
                self._proc = subprocess.Popen(self._command(tmp), env=env, stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, cwd=self.root_dir, start_new_session=True)
            if self._wait_ready():
                return
            # the port was taken between our probe and the server's bind (or the server crashed): try again
            self.stop(remove_tmp=False)
        raise RuntimeError(f"JupyterLab did not start after {attempts} attempts; server log:\n{self.log_tail()}")

    def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        status_url = f"{self.base_url}/api/status?token={self.token}"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(status_url, timeout=5) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"JupyterLab did not answer {self.base_url}/api/status within {self.start_timeout_s:.0f} s;"
                           f" server log:\n{self.log_tail()}")

    def stop(self, *, remove_tmp: bool = True, grace_s: float = 15.0) -> None:
        """Stop the server and its kernels (SIGTERM, then SIGKILL by pid for anything left); idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            started = _descendants(proc.pid)  # kernels run in their own sessions: remember them before stopping
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid)
                proc.wait(timeout=grace_s)
            _, alive = psutil.wait_procs(started, timeout=grace_s)
            for child in alive:
                try:
                    child.kill()
                except psutil.NoSuchProcess:
                    pass
        elif proc is not None and proc.poll() is not None:
            _kill_group(proc.pid)  # the leader exited: make sure nothing of its group lingers
        if remove_tmp and self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
