"""The one way notebooks are executed: papermill in a process of its own, this venv's kernel, one environment.

Used by ``labutils.tools.notebooks.execute`` (``make run``, ``make refs``, the notebook tests) and by the
grader (which puts the same command inside its sandbox). The kernel is this interpreter, registered as
``python3`` in a kernelspec folder put first on ``JUPYTER_PATH``; the environment recipe is
:func:`kernel_env`; :func:`run` enforces a wall-time limit and kills the whole process tree at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

import labutils

LOG_TAIL_BYTES = 16_384
REPO_ROOT = Path(labutils.__file__).resolve().parents[1]  # the folder that holds this labutils
_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()


@dataclass(frozen=True)
class RunResult:
    """How a run ended: exit code (-9 when the time limit killed it), the end of its log, wall seconds."""

    returncode: int
    timed_out: bool
    log_tail: str
    seconds: float


def write_kernelspec(folder: Path) -> Path:
    """Register this interpreter as kernel ``python3`` under ``folder``; returns the JUPYTER_PATH entry."""
    spec_dir = Path(folder) / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (genlabs)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return spec_dir.parents[1]


def kernel_env(*, profile: str, jupyter_path: Path, backend: str = "Agg", threads: int | None = None,
               base: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of papermill and its kernel.

    ``base`` (default: this process's environment) plus: the profile, the kernelspec of
    :func:`write_kernelspec` first on ``JUPYTER_PATH``, this venv's ``bin/`` first on ``PATH``, this
    ``labutils`` first on ``PYTHONPATH``, ``PYTHONHASHSEED=0``, the matplotlib ``backend``, sleeping idle
    OpenMP threads (``OMP_WAIT_POLICY=PASSIVE`` unless ``base`` sets it: spinning threads slow a run 20x
    when another process holds a core), ``threads`` BLAS/OpenMP threads when given; then ``extra``.
    """
    base = os.environ if base is None else base
    env = dict(base)

    def first(var: str, entry: str) -> str:
        return os.pathsep.join([entry, base.get(var, "")]).rstrip(os.pathsep)

    env.update({
        "GENLABS_PROFILE": profile, "MPLBACKEND": backend, "PYTHONHASHSEED": "0",
        "JUPYTER_PATH": first("JUPYTER_PATH", str(jupyter_path)), "JUPYTER_PLATFORM_DIRS": "1",
        "PATH": first("PATH", str(Path(sys.executable).parent)), "PYTHONPATH": first("PYTHONPATH", str(REPO_ROOT)),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1", "OMP_WAIT_POLICY": base.get("OMP_WAIT_POLICY", "PASSIVE"),
    })
    if threads is not None:
        env.update({k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    env.update(extra or {})
    return env


def papermill_argv(src: str, dst: str, *, profile: str, cwd: str, cell_timeout: float | None = None) -> list[str]:
    """The papermill command: ``PROFILE=profile`` injected, kernel ``python3``, kernel working directory ``cwd``."""
    argv = [sys.executable, "-m", "papermill", src, dst, "-k", "python3", "--language", "python",
            "-r", "PROFILE", profile, "--cwd", cwd, "--no-progress-bar", "--log-level", "WARNING",
            "--start-timeout", "120"]
    return argv + (["--execution-timeout", str(int(cell_timeout))] if cell_timeout else [])


def _drain(pipe, tail: bytearray) -> None:
    """Read a pipe to its end, keeping only the last LOG_TAIL_BYTES (a flood cannot fill memory)."""
    for chunk in iter(lambda: pipe.read1(65536), b""):
        tail += chunk
        del tail[:-LOG_TAIL_BYTES]


def kill_tree(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and every descendant still attached to it (a sandbox also kills the detached ones)."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        family = []
    for p in [*family, proc]:
        try:
            p.kill()
        except (psutil.Error, ProcessLookupError):
            pass
    psutil.wait_procs([p for p in family if p.is_running()], timeout=10)


def kill_all() -> None:
    """Kill every run still going (used when a batch itself is interrupted)."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        kill_tree(proc)


def run(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float | None,
        preexec_fn: Callable[[], None] | None = None) -> RunResult:
    """Run ``argv`` in a new session under a wall-time limit (seconds, None: none), then kill what is left."""
    start = time.monotonic()
    proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec_fn)
    with _live_lock:
        _live.add(proc)
    tail = bytearray()
    reader = threading.Thread(target=_drain, args=(proc.stdout, tail), daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        kill_tree(proc)  # also reaps a kernel left behind by a papermill that exited
        proc.wait()
        with _live_lock:
            _live.discard(proc)
    reader.join(timeout=10)
    log = bytes(tail).decode("utf-8", "replace")
    return RunResult(-9 if timed_out else proc.returncode, timed_out, log, time.monotonic() - start)
