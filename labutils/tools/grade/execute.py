"""Run one notebook with papermill in its own process group, under a wall-time limit.

No per-cell timeout (training cells may take long); instead the whole run gets ``timeout`` seconds,
after which papermill, its kernel and their children are killed. The kernel is the venv's
``python3`` (a kernelspec written next to the run and put first on ``JUPYTER_PATH``); execution is
headless (no stdin, ``MPLBACKEND=Agg``), so ``input()`` raises and widgets render to nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil

import labutils

MAX_OUTPUT_CHARS = 20_000  # per output of a stored executed notebook
MAX_NOTEBOOK_CHARS = 2_000_000  # all outputs of a stored executed notebook
LOG_TAIL_BYTES = 16_384
_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()


@dataclass(frozen=True)
class RunResult:
    """How a papermill run ended: exit code, whether the time limit killed it, the end of its log."""

    returncode: int
    timed_out: bool
    log_tail: str
    seconds: float


def kernel_env(work: Path, build: Path, threads: int = 1, profile: str = "ci") -> dict[str, str]:
    """Environment of a run: CI profile, outputs under ``build``, this interpreter as ``python3``."""
    kernels = Path(work) / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (genlabs grading)", "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps(spec, indent=1))
    env = dict(os.environ)
    root = str(Path(labutils.__file__).resolve().parents[1])  # so the kernel imports this labutils
    env.update({
        "GENLABS_PROFILE": profile, "GENLABS_BUILD": str(build), "MPLBACKEND": "Agg",
        "JUPYTER_PATH": os.pathsep.join([str(Path(work) / "jupyter"), env.get("JUPYTER_PATH", "")]).rstrip(os.pathsep),
        "PYTHONPATH": os.pathsep.join([root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PYTHONHASHSEED": "0", "PYDEVD_DISABLE_FILE_VALIDATION": "1", "JUPYTER_PLATFORM_DIRS": "1",
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
        "OMP_WAIT_POLICY": env.get("OMP_WAIT_POLICY", "PASSIVE"),  # idle threads sleep: kernels share the cores
    })
    return env


def _drain(pipe, tail: bytearray) -> None:
    """Read a pipe to its end, keeping only the last LOG_TAIL_BYTES (a flood cannot fill memory)."""
    for chunk in iter(lambda: pipe.read1(65536), b""):
        tail += chunk
        del tail[:-LOG_TAIL_BYTES]


def kill_tree(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and every descendant (the kernel runs in its own session, so no killpg)."""
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
    """Kill every run still going (used when the batch itself is interrupted)."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        kill_tree(proc)


def run_papermill(work: Path, input_name: str, output_name: str, cwd: Path, env: dict[str, str],
                  timeout: float) -> RunResult:
    """Execute ``work/input_name`` into ``work/output_name`` with papermill (kernel cwd ``cwd``).

    The profile of ``env`` is passed as the ``PROFILE`` parameter; the notebook is saved after each
    cell, so a run killed at the time limit leaves the cells it finished. Execution stops at the
    first error except past cells tagged ``raises-exception`` (the grader tags every code cell).
    """
    cmd = [sys.executable, "-m", "papermill", input_name, output_name, "-k", "python3",
           "-r", "PROFILE", env.get("GENLABS_PROFILE", "ci"), "--cwd", str(cwd), "--no-progress-bar",
           "--log-level", "WARNING", "--start-timeout", "120"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
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
    log = bytes(tail).decode("utf-8", "replace").replace(str(work), "<work>")
    return RunResult(proc.returncode if not timed_out else -9, timed_out, log, time.monotonic() - start)


def read_output(path: Path) -> nbformat.NotebookNode | None:
    """The executed notebook, or None when papermill left none (or a half-written one)."""
    try:
        return nbformat.read(str(path), as_version=4)
    except (OSError, ValueError, KeyError):
        return None


def cell_error(cell: nbformat.NotebookNode) -> str | None:
    """``"Ename: evalue"`` of the cell's first error output, None when it has none."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".rstrip(": ")
    if cell.get("metadata", {}).get("papermill", {}).get("exception"):
        return "CellExecutionError: the cell failed without an error output"
    return None


def cell_completed(cell: nbformat.NotebookNode) -> bool:
    """Whether papermill ran the cell to its end."""
    status = cell.get("metadata", {}).get("papermill", {}).get("status")
    return cell.get("execution_count") is not None and status in (None, "completed")


def error_above(cells: list, index: int, check_key: str) -> str | None:
    """The first error of the cells between the previous check cell and ``cells[index]``."""
    start = max((i for i in range(index) if check_key in cells[i].metadata), default=-1) + 1
    for i in range(start, index):
        if cells[i].cell_type == "code" and (err := cell_error(cells[i])):
            label = f"In [{cells[i].execution_count}]" if cells[i].get("execution_count") else f"cell {i}"
            return f"{label}: {err}"
    return None


def last_error_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    hits = [line for line in lines if "Error" in line or "error" in line]
    return (hits or lines or ["no output"])[-1][:300]


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters cut by the grader] ...\n{text[-half:]}"


def cap_outputs(nb: nbformat.NotebookNode, per_output: int = MAX_OUTPUT_CHARS,
                total: int = MAX_NOTEBOOK_CHARS) -> None:
    """Shorten outputs in place so a notebook that prints megabytes is stored at a bounded size."""
    budget = total
    for cell in nb.cells:
        outs = []
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = _cap("".join(out["text"]), per_output)
            if "traceback" in out:
                out["traceback"] = [_cap(line, 2000) for line in out["traceback"][-30:]]
            for mime, value in list(out.get("data", {}).items()):
                text = value if isinstance(value, str) else json.dumps(value)
                if len(text) > per_output:
                    if mime.startswith("text/"):
                        out["data"][mime] = _cap(text, per_output)
                    else:
                        del out["data"][mime]
                        out["data"].setdefault("text/plain", f"[{mime} output of {len(text)} characters dropped]")
            if budget <= 0:
                break
            size = len(json.dumps(out))
            if size > budget:
                note = "[further output dropped: the notebook's outputs exceed the cap]\n"
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
                budget = 0
                break
            budget -= size
            outs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outs
    nb.metadata.pop("widgets", None)
