"""Grade submissions: find them, grade each in its own sandbox, turn the results into signed rows.

The unit of work is :func:`grade_one` (one submission -> its gradebook rows, also written to
``OUT/rows/`` signed with the batch key); :func:`grade_batch` maps it over
``SUBMISSIONS/<student>/<NN_topic>.ipynb`` with any ``map`` (local threads by default, each thread
waiting on its own sandboxed papermill process), so a Dask or Slurm executor slots in.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from labutils.tools import launcher
from labutils.tools.grade import sandbox
from labutils.tools.grade.assemble import assemble
from labutils.tools.grade.gradebook import (
    WHOLE_NOTEBOOK,
    Row,
    batch_key,
    clean_name,
    clean_text,
    rows_to_json,
    sort_rows,
    write_gradebook,
)
from labutils.tools.grade.markers import Exercise, parse_exercises, read_notebook
from labutils.tools.grade.student import parse_selection
from labutils.tools.grade.submission import Settings, grade_in

MAX_SUBMISSION_BYTES = 50_000_000
NAME_RE = re.compile(r"\d\d_[\w-]+")
IGNORED = frozenset({".ipynb_checkpoints", "__MACOSX", ".git", ".DS_Store", "__pycache__"})
MapFn = Callable[[Callable[["Submission"], list[Row]], Sequence["Submission"]], Iterable[list[Row]]]


@dataclass(frozen=True)
class Submission:
    """One submitted file; ``problem`` says why it cannot be graded (empty when it can)."""

    path: Path
    student: str
    notebook: str
    problem: str = ""


def slug(name: str) -> str:
    """A file-system-safe name: ``[A-Za-z0-9_-]`` only, never empty or dotted, unique per ``name``."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:60].strip("_-") or "x"
    return safe if safe == name else f"{safe}-{hashlib.sha1(name.encode('utf-8', 'replace')).hexdigest()[:8]}"


def inside(root: Path, *parts: str) -> Path:
    """``root/parts...``, refusing anything that would land outside ``root``."""
    root = Path(root).resolve()
    path = root.joinpath(*parts).resolve()
    if path != root and root not in path.parents:
        raise RuntimeError(f"refusing to write {path}: it is outside the output folder {root}")
    return path


def discover(submissions_dir: Path) -> list[Submission]:
    """Every ``<student>/<notebook>.ipynb`` under ``submissions_dir`` (sorted); odd entries get a problem.

    Archive and editor litter (``.ipynb_checkpoints``, ``__MACOSX``, ...) is skipped; every other
    ``.ipynb`` entry is listed, so an odd one becomes a failed row with its reason. Symbolic links and
    entries that are not regular files are reported, never followed.
    """
    root = Path(submissions_dir)
    if not root.is_dir():
        raise ValueError(f"submissions folder {root} does not exist: give SUBMISSIONS/<student>/<NN_topic>.ipynb")
    subs = []
    for entry in sorted(root.iterdir()):
        if entry.name in IGNORED:
            continue
        if entry.is_symlink():
            subs.append(Submission(entry, entry.name, "", "the student folder is a symbolic link: not followed"))
        elif entry.is_dir():
            for f in sorted(entry.iterdir()):
                if f.name in IGNORED or not f.name.endswith(".ipynb"):
                    continue
                problem = ("the file is a symbolic link: not followed" if f.is_symlink() else
                           "" if f.is_file() else "not a regular file")
                subs.append(Submission(f, entry.name, f.name[: -len(".ipynb")], problem))
        elif entry.name.endswith(".ipynb"):
            subs.append(Submission(entry, "", entry.name[: -len(".ipynb")],
                                   "not inside a student folder: use SUBMISSIONS/<student>/<notebook>.ipynb"))
    return sorted(subs, key=lambda s: (s.student, s.notebook, s.path.name))


def _fail(sub: Submission, exercises: list[Exercise] | None, reason: str) -> list[Row]:
    student, notebook = clean_name(sub.student), clean_name(sub.notebook)
    if not exercises:
        return [Row(student, notebook, WHOLE_NOTEBOOK, 0.0, 0.0, False, clean_text(reason))]
    return [Row(student, notebook, ex.name, 0.0, float(ex.max_points), False, clean_text(reason))
            for ex in exercises]


def _read_submission(path: Path) -> nbformat.NotebookNode:
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        raise ValueError(f"the file has {size} bytes, more than the {MAX_SUBMISSION_BYTES} accepted")
    nb = nbformat.reads(path.read_bytes().decode("utf-8"), as_version=4)
    nbformat.validate(nb)
    return nb


def _grade(sub: Submission, settings: Settings) -> list[Row]:
    if not NAME_RE.fullmatch(sub.notebook) or not (settings.instructor_dir / f"{sub.notebook}.ipynb").is_file():
        known = ", ".join(p.stem for p in sorted(settings.instructor_dir.glob("[0-9][0-9]_*.ipynb")))
        return _fail(sub, None, sub.problem or f"no instructor notebook of this name (known: {known})")
    instructor = read_notebook(settings.instructor_dir / f"{sub.notebook}.ipynb")
    exercises = parse_exercises(instructor, sub.notebook)
    if settings.exercises is not None:  # the others were handed out with their answers: not graded
        exercises = [ex for ex in exercises if f"{sub.notebook}:{ex.name}" in settings.exercises]
    if sub.problem:
        return _fail(sub, exercises, sub.problem)
    if not exercises:
        return _fail(sub, None, "the instructor notebook has no exercises: nothing to grade")
    try:
        submitted = _read_submission(sub.path)
    except (ValueError, UnicodeDecodeError, nbformat.ValidationError, OSError) as e:
        return _fail(sub, exercises, f"not a valid notebook: {type(e).__name__}: {e}")
    graded = assemble(submitted, exercises)
    student_slug, nb_slug = slug(sub.student), slug(sub.notebook)
    return grade_in(inside(settings.out_dir, "_work", student_slug, nb_slug),
                    inside(settings.out_dir, "executed", student_slug, f"{nb_slug}.ipynb"), sub.student, sub.notebook,
                    exercises, graded, settings)


def grade_one(sub: Submission, settings: Settings) -> list[Row]:
    """Grade one submission into its gradebook rows (also stored in ``OUT/rows/``); never raises
    for a bad submission: every problem becomes a failed row with the reason."""
    try:
        rows = _grade(sub, settings)
    except Exception as e:  # noqa: BLE001 - one broken submission must not stop the batch
        rows = _fail(sub, None, f"grader error: {type(e).__name__}: {e}")
    place = f"{slug(sub.student)}/{slug(sub.notebook)}.json"
    target = inside(settings.out_dir, "rows", *place.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rows_to_json(rows, settings.key, place))
    return rows


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def make_settings(instructor_dir: Path, out_dir: Path, submissions_dir: Path, timeout: float,
                  workers: int = 1, threads: int = 1, *, use_sandbox: bool = True, memory_gb: float = 8.0,
                  fresh_key: bool = False, exercises: Sequence[str] | None = None) -> Settings:
    """Checked settings: the output folder must not hold the submissions or instructor notebooks; the
    sandbox must be available (ValueError naming the package) unless ``use_sandbox`` is False."""
    out, subs, inst = (Path(p).resolve() for p in (out_dir, submissions_dir, instructor_dir))
    if not inst.is_dir():
        raise ValueError(f"instructor folder {inst} does not exist: pass --instructor notebooks/")
    for name, other in (("submissions", subs), ("instructor", inst)):
        if out == other or other in out.parents:
            raise ValueError(f"the output folder {out} must lie outside the {name} folder {other}")
    if timeout <= 0 or workers < 1 or threads < 1 or memory_gb < 1:
        raise ValueError(f"need timeout > 0, workers >= 1, threads >= 1 and memory >= 1 GB; got timeout={timeout}, "
                         f"workers={workers}, threads={threads}, memory={memory_gb} GB")
    if use_sandbox:
        sandbox.bwrap_path()
    chosen = None
    if exercises:  # the same --exercises as `student`: resolved against the instructor notebooks
        found = {p.stem: parse_exercises(read_notebook(p), p.stem) for p in sorted(inst.glob("[0-9][0-9]_*.ipynb"))}
        chosen = frozenset(f"{nb}:{ex}" for nb, names in parse_selection(exercises, found).items() for ex in names)
    return Settings(inst, out, batch_key(out, fresh=fresh_key), float(timeout), threads=threads,
                    use_sandbox=use_sandbox, limits=sandbox.Limits(memory_bytes=int(memory_gb * 2**30)),
                    exercises=chosen)


def grade_batch(submissions_dir: Path, out_dir: Path, *, instructor_dir: Path = Path("notebooks"),
                workers: int | None = None, timeout: float = 600.0, threads: int = 1, use_sandbox: bool = True,
                memory_gb: float = 8.0, map: MapFn | None = None, exercises: Sequence[str] | None = None) -> list[Row]:
    """Grade every submission and write ``gradebook.csv`` and ``summary.md`` into ``out_dir``.

    ``map(fn, submissions)`` runs :func:`grade_one` over the submissions; the default uses ``workers``
    threads (default: the number of cores), each waiting on its own papermill process. Each kernel
    gets ``threads`` BLAS/OpenMP threads: keep 1 unless the machine is yours alone, since spinning
    OpenMP threads on a busy machine can make training tens of times slower. Every kernel runs in a
    sandbox (:mod:`~labutils.tools.grade.sandbox`, ``memory_gb`` of address space per process) unless
    ``use_sandbox`` is False. ``exercises``: the ``--exercises`` given to ``student`` (only those are graded).
    """
    workers = workers or default_workers()
    settings = make_settings(instructor_dir, out_dir, submissions_dir, timeout, workers, threads,
                             use_sandbox=use_sandbox, memory_gb=memory_gb, fresh_key=True, exercises=exercises)
    for sub_dir in ("rows", "executed", "_work"):
        shutil.rmtree(settings.out_dir / sub_dir, ignore_errors=True)
    subs = discover(submissions_dir)
    fn = functools.partial(grade_one, settings=settings)
    if map is not None:
        results = list(map(fn, subs))
    else:
        with ThreadPoolExecutor(workers) as pool:
            try:
                results = list(pool.map(fn, subs))
            except BaseException:  # Ctrl-C: cancel what has not started, kill what runs
                pool.shutdown(wait=False, cancel_futures=True)
                launcher.kill_all()
                raise
    rows = sort_rows(r for rs in results for r in rs)
    write_gradebook(rows, settings.out_dir)
    shutil.rmtree(settings.out_dir / "_work", ignore_errors=True)
    return rows


def grade_task(submissions_dir: Path, out_dir: Path, index: int, *, instructor_dir: Path = Path("notebooks"),
               timeout: float = 600.0, threads: int = 1, use_sandbox: bool = True, memory_gb: float = 8.0,
               exercises: Sequence[str] | None = None) -> list[Row]:
    """Grade only submission number ``index`` of :func:`discover`'s list (one task of a job array)."""
    subs = discover(submissions_dir)
    if not 0 <= index < len(subs):
        raise ValueError(f"task index {index} is out of range: there are {len(subs)} submissions (0..{len(subs) - 1})")
    return grade_one(subs[index], make_settings(instructor_dir, out_dir, submissions_dir, timeout, 1, threads,
                                                use_sandbox=use_sandbox, memory_gb=memory_gb, exercises=exercises))
