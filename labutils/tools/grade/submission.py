"""Grade one submission: run it in its sandbox, read back the values its checks exported, judge them here.

The trusted side of grading. The student's notebook (with every check reduced to its export cell)
runs in :mod:`~labutils.tools.grade.sandbox` under a wall-time limit; afterwards this process reads
the exported values (never unpickled, never through a link) and runs each check's ASSERT on them
(:func:`labutils.tools.grade.checks.judge`). What the kernel printed, or wrote into its executed
notebook, only feeds the hints of the error texts.
"""

from __future__ import annotations

import functools
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import nbformat

from labutils import data, grading
from labutils.tools import launcher
from labutils.tools.grade import execute, sandbox
from labutils.tools.grade.assemble import GRADE_KEY, Assembled, export_key
from labutils.tools.grade.checks import judge
from labutils.tools.grade.gradebook import Row, clean_name, clean_text
from labutils.tools.grade.markers import Exercise

BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}  # nothing of the grader's


@dataclass(frozen=True)
class Settings:
    """Everything :func:`grade_one` needs besides the submission (picklable, for remote executors)."""

    instructor_dir: Path
    out_dir: Path
    key: bytes  # signs the rows files (OUT/.grader-key); never enters a sandbox
    timeout: float = 600.0
    threads: int = 1
    limits: sandbox.Limits = sandbox.Limits()
    use_sandbox: bool = True  # False only with --no-sandbox (trusted submissions)
    max_output_chars: int = execute.MAX_OUTPUT_CHARS
    max_notebook_chars: int = execute.MAX_NOTEBOOK_CHARS
    exercises: frozenset[str] | None = None  # "NN_topic:name" of the exercises handed out (None: all)


def run_in_sandbox(graded: Assembled, work: Path, settings: Settings, seed: int) -> launcher.RunResult:
    """Execute ``graded.nb`` as ``work/input.ipynb`` -> ``work/output.ipynb``, checks exporting to ``work/exports``."""
    nbformat.write(graded.nb, str(work / "input.ipynb"))
    fonts = work / ".matplotlib"  # the grader's font list, so that no kernel spends seconds rebuilding it
    fonts.mkdir()
    for found in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
        shutil.copy(found, fonts)
    cache = data.default_root()
    extra = {"GENLABS_BUILD": str(work / "build"), grading.EXPORTS_ENV: str(work / "exports"),
             grading.SEED_ENV: str(seed), "GENLABS_OFFLINE": "1", "MPLCONFIGDIR": str(fonts)}
    if cache.is_dir():
        extra["GENLABS_DATA"] = str(cache)
    env = launcher.kernel_env(profile="ci", jupyter_path=launcher.write_kernelspec(work), threads=settings.threads,
                              base={**BASE_ENV, "HOME": str(work)}, extra=extra)
    argv = launcher.papermill_argv("input.ipynb", "output.ipynb", profile="ci", cwd=str(work))
    if settings.use_sandbox:
        argv = sandbox.wrap(argv, work=work, data_cache=cache)
    run = launcher.run(argv, cwd=work, env=env, timeout=settings.timeout,
                       preexec_fn=functools.partial(sandbox.set_limits, settings.limits))
    return launcher.RunResult(run.returncode, run.timed_out, run.log_tail.replace(str(work), "<work>"), run.seconds)


def _not_run(run: launcher.RunResult, nb: nbformat.NotebookNode | None, timeout: float) -> str:
    """Why a check exported nothing, from how the run ended."""
    if run.timed_out:
        running = [i for i, c in enumerate(nb.cells if nb is not None else [])
                   if c.get("metadata", {}).get("papermill", {}).get("status") == "running"]
        where = f" (it was running cell {running[0] + 1})" if running else ""
        return f"not run: the notebook exceeded the time limit of {timeout:g} s{where}"
    if run.returncode and "DeadKernelError" in run.log_tail:
        return "not run: the kernel died (did the notebook call exit() or run out of memory?)"
    if run.returncode and nb is None:
        return f"not run: papermill failed ({execute.last_error_line(run.log_tail)})"
    if run.returncode:
        return f"not run: execution stopped early ({execute.last_error_line(run.log_tail)})"
    return "no values exported: the check's cell did not run as the grader wrote it"


def score(sub_student: str, sub_notebook: str, exercises: list[Exercise], graded: Assembled,
          nb: nbformat.NotebookNode | None, run: launcher.RunResult, exports: Path, seed: int,
          timeout: float) -> list[Row]:
    """One row per exercise: a check's points count when its exported values pass its ASSERT here."""
    cells = nb.cells if nb is not None else []
    where = {(m.get("exercise"), m.get("check")): i
             for i, c in enumerate(cells) if isinstance(m := c.get("metadata", {}).get(GRADE_KEY), dict)}
    rows = []
    for e, ex in enumerate(exercises):
        points, problems = 0.0, []
        for n, check in enumerate(ex.checks):
            try:
                values = grading.load_values(exports, export_key(e, n))
            except FileNotFoundError:
                problems.append(f"check {n + 1}: {_not_run(run, nb, timeout)}")
                continue
            except ValueError as err:
                error = str(err)
            else:
                error = judge(check.sections, values, seed)
            if error is None:
                points += check.points
                continue
            i = where.get((ex.name, n))
            cause = execute.error_above(cells, i, GRADE_KEY) if i is not None else None
            problems.append(f"check {n + 1}: {error}" + (f" (first error above it: {cause})" if cause else ""))
        text = "; ".join(problems[:1] + graded.notes.get(ex.name, []))
        rows.append(Row(clean_name(sub_student), clean_name(sub_notebook), ex.name, points, float(ex.max_points),
                        not problems, clean_text(text)))
    return rows


def grade_in(work: Path, executed_path: Path, student: str, notebook: str, exercises: list[Exercise],
             graded: Assembled, settings: Settings) -> list[Row]:
    """Run ``graded`` in a fresh ``work`` folder, keep the executed notebook, score, and remove ``work``."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    seed = secrets.randbelow(2**31)  # the checks' inputs: drawn now, so no submission can know them beforehand
    try:
        run = run_in_sandbox(graded, work, settings, seed)
        executed = execute.read_output(work / "output.ipynb")
        if executed is not None:
            execute.cap_outputs(executed, settings.max_output_chars, settings.max_notebook_chars)
            executed_path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(executed, str(executed_path))
        return score(student, notebook, exercises, graded, executed, run, work / "exports", seed, settings.timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
