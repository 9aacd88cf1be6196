"""Execute, strip and compare the lab notebooks (used by ``make run``, ``make refs`` and the tests).

Committed notebooks keep outputs only in cells marked ``# NBVAL_CHECK_OUTPUT``; those outputs are
the references that the tests compare, after the substitutions of ``tests/nbval_sanitize.cfg``
(nbval's file format and stream handling), with a fresh CI-profile execution.

Each run also writes its checks (``labutils.check``) to ``build/results/<notebook>.json``; ``verify``
compares them with the committed numeric reference of the profile (:mod:`labutils.tools.references`).

    python -m labutils.notebooks run [--profile ci|full] [--out build/notebooks] [NOTEBOOK ...]
    python -m labutils.notebooks refs NOTEBOOK ...      # execute in CI profile, store checked outputs + reference
    python -m labutils.notebooks refs [--profile full] --seeds 5 NOTEBOOK ...   # tolerances also cover 5 training seeds
    python -m labutils.notebooks refs --profile full NOTEBOOK ...   # reference from the last full run in build/
    python -m labutils.notebooks verify [--profile ci|full] NOTEBOOK ...   # table: name, reference, fresh, tol
    python -m labutils.notebooks strip NOTEBOOK ...     # drop every unchecked output in place
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import nbformat

from labutils.tools import launcher, references
from labutils.tools import progress as progress_lines

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
# Every number in a checked cell's output is masked in the comparison: the numbers a claim rests on are compared by
# `verify`, within derived tolerances; float rounding differs between CPUs (MKL's kernels on Intel and AMD), so a
# printed last digit is no regression. What the comparison still sees: which lines, which checks, passed or FAILED.
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\b(?:nan|inf)\b")
REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SANITIZE_FILE = REPO / "tests" / "nbval_sanitize.cfg"
_VOLATILE_CELL_META = ("execution", "papermill", "collapsed", "scrolled")
ALLOW_ERRORS_TAG = "raises-exception"  # papermill runs on past an error in a cell with this tag


def lab_notebooks() -> list[Path]:
    """``notebooks/NN_*.ipynb`` in teaching order."""
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and CHECK_MARK in cell.source


def _lab_cells(nb) -> list:
    """Cells of the notebook itself (papermill's injected-parameters cell left out)."""
    return [c for c in nb.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]


def strip(nb) -> nbformat.NotebookNode:
    """A copy of ``nb`` with outputs only in checked cells and no run-to-run metadata."""
    nb = copy.deepcopy(nb)
    nb.cells = _lab_cells(nb)
    for cell in nb.cells:
        for key in _VOLATILE_CELL_META:
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        if not is_checked(cell):
            cell.outputs, cell.execution_count = [], None
    for key in ("papermill", "widgets"):
        nb.metadata.pop(key, None)
    return nb


def execute(src: Path, dst: Path, *, profile: str = "ci", timeout: float | None = None,
            extra_env: dict[str, str] | None = None, progress=None, seed: int | None = None) -> nbformat.NotebookNode:
    """Run ``src`` top to bottom with papermill (``PROFILE=profile``, and ``SEED=seed`` when given).

    The kernel runs in the notebook's folder, with the environment of
    :func:`labutils.tools.launcher.kernel_env` (``$GENLABS_PROFILE``, this venv's python, sleeping OpenMP
    threads unless ``OMP_WAIT_POLICY`` is set) plus ``extra_env``, and inline figures. ``timeout`` is per
    cell, in seconds. papermill runs in this process (the grader runs the same command in a sandboxed
    process of its own), so ``progress``, a :class:`labutils.tools.progress.Progress`, can report cells,
    time and training bars while it runs (``make run``). A failing cell raises papermill's
    ``PapermillExecutionError`` naming the cell and its error.
    """
    import papermill

    src, dst = Path(src).resolve(), Path(dst).resolve()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="genlabs-run-") as tmp:
        env = launcher.kernel_env(profile=profile, jupyter_path=launcher.write_kernelspec(Path(tmp)),
                                  backend="module://matplotlib_inline.backend_inline", extra=extra_env)
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            parameters = {"PROFILE": profile} | ({} if seed is None else {"SEED": seed})
            return papermill.execute_notebook(str(src), str(dst), parameters=parameters,
                                              kernel_name="python3", language="python", cwd=str(src.parent),
                                              progress_bar=False, execution_timeout=timeout,
                                              **progress_lines.engine_kwargs(progress))
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _sanitize_patterns() -> list[tuple[str, str]]:
    from nbval.plugin import get_sanitize_patterns

    return get_sanitize_patterns(SANITIZE_FILE.read_text()) if SANITIZE_FILE.is_file() else []


def comparable(outputs) -> list[tuple[str, str]]:
    """Outputs as (kind, sanitized text), the way nbval --nbval-lax compares a checked cell.

    Streams of one name are joined (and ``\\r``/``\\b`` applied, by nbval's own function); images and
    widget views are not compared; errors compare by exception name. Every number is masked (``#``): the
    numeric regression (``verify``) compares the checks' values, within their tolerances.
    """
    from nbval.plugin import coalesce_streams

    patterns = _sanitize_patterns()

    def clean(s: str) -> str:
        for regex, repl in patterns:
            s = re.sub(regex, repl, s)
        return NUMBER.sub("#", s)

    out = []
    for o in coalesce_streams(copy.deepcopy(list(outputs))):
        if o.output_type == "stream":
            out.append((o.name, clean(o.text)))
        elif o.output_type in ("execute_result", "display_data"):
            for mime, value in sorted(o.data.items()):
                if mime.startswith("image/") or mime.startswith("application/vnd.jupyter.widget"):
                    continue
                out.append((mime, clean(value if isinstance(value, str) else str(value))))
        elif o.output_type == "error":
            out.append(("error", o.ename))
    return out


def compare(executed, reference) -> list[str]:
    """Differences between the checked cells' outputs of a fresh run and the committed references."""
    ran, ref = _lab_cells(executed), _lab_cells(reference)
    if len(ran) != len(ref):
        return [f"the executed notebook has {len(ran)} cells, the reference {len(ref)}"]
    problems = []
    for i, (a, b) in enumerate(zip(ran, ref)):
        if not is_checked(b):
            continue
        if b.execution_count is None:
            problems.append(f"cell {i}: checked cell has no stored execution_count (run `make refs`)")
        got, want = comparable(a.outputs), comparable(b.outputs)
        if got != want:
            problems.append(f"cell {i} ({b.source.splitlines()[0][:60]!r}...):\n  expected {want}\n  got      {got}")
    return problems


def refresh(path: Path, out_dir: Path) -> nbformat.NotebookNode:
    """Execute ``path`` in the CI profile and write it back keeping only the checked outputs."""
    source = nbformat.read(path, as_version=4)
    executed = execute(path, out_dir / path.name, profile="ci")
    cells = _lab_cells(executed)
    if len(cells) != len(source.cells):
        raise RuntimeError(f"{path}: cell count changed during execution; is the notebook being edited?")
    for cell, ran in zip(source.cells, cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = ran.outputs, ran.execution_count
    stripped = strip(source)
    nbformat.write(stripped, path)
    return stripped


def allow_errors(nb: nbformat.NotebookNode, start: int = 0) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose code cells from ``start`` on let the run go on past an error (checks recorded)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells[start:]:
        if cell.cell_type == "code" and ALLOW_ERRORS_TAG not in cell.metadata.get("tags", []):
            cell.metadata.setdefault("tags", []).append(ALLOW_ERRORS_TAG)
    return nb


def checks_over_seeds(path: Path, seeds: Sequence[int], out_dir: Path,
                      profile: str = "ci") -> dict[int, dict[str, dict]]:
    """The checks of a ``profile`` run of ``path`` per training seed: ``{seed: {name: check}}``.

    Each seed runs in a build folder of its own (``out_dir/seed-N``: nothing trained is reused, so the
    spread is that of training), and every cell runs even after a failed check, so a claim that fails on
    some seed is seen with its value.
    """
    from papermill.exceptions import PapermillExecutionError

    src = out_dir / "src" / path.name
    src.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(allow_errors(nbformat.read(path, as_version=4)), src)
    found = {}
    for seed in seeds:
        build = out_dir / f"seed-{seed}"
        try:
            execute(src, build / path.name, profile=profile, seed=seed, extra_env={"GENLABS_BUILD": str(build)})
        except PapermillExecutionError:
            pass  # papermill names failed cells after running them all; their checks are recorded
        results = build / "results" / f"{path.stem}.json"
        found[seed] = json.loads(results.read_text()).get("checks", {}) if results.is_file() else {}
    return found


def regression_problems(path: Path, executed: nbformat.NotebookNode, profile: str = "ci") -> list[str]:
    """Everything ``make test`` holds against a fresh run of ``path``: checked outputs and numeric checks."""
    from labutils.results import load

    problems = compare(executed, nbformat.read(path, as_version=4))
    try:
        rows = references.verify(path.stem, profile, load(path.stem))
    except (FileNotFoundError, ValueError) as err:
        return [*problems, str(err)]
    bad = [r for r in rows if not r.ok]
    if bad:
        problems.append(f"numeric checks of {path.stem} against {references.reference_path(path.stem, profile)}:\n"
                        + references.table(bad))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labutils.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "refs", "strip", "verify"])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb")
    parser.add_argument("--profile", default="ci", choices=["ci", "full"])
    parser.add_argument("--out", type=Path, default=None, help="folder for executed copies")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="refs: also run SEED=1..N-1; tolerances widen to the spread over the N seeds")
    args = parser.parse_intermixed_args(argv)
    paths = [p.resolve() for p in args.notebooks] or lab_notebooks()
    from labutils.results import build_dir, load

    out = args.out or build_dir() / ("notebooks" if args.command == "run" else "refs")
    failed, summary = [], []
    for path in paths:
        t0 = time.perf_counter()
        try:
            if args.command == "strip":
                nbformat.write(strip(nbformat.read(path, as_version=4)), path)
                continue
            if args.command == "verify":
                rows = references.verify(path.stem, args.profile, load(path.stem))
                print(f"{path.stem} ({args.profile} profile)\n{references.table(rows)}\n")
                if not all(r.ok for r in rows):
                    failed.append(path.name)
                continue
            if args.command == "run":
                progress_lines.run_reported(path.stem, args.profile, summary, lambda shown, path=path: execute(
                    path, out / path.name, profile=args.profile, progress=shown))
            elif args.profile == "ci":
                refresh(path, out)
            spread = (checks_over_seeds(path, range(1, args.seeds), out / "seeds" / args.profile / path.stem,
                                        args.profile) if args.command == "refs" and args.seeds > 1 else None)
            written = (references.write(path.stem, args.profile, load(path.stem), spread)
                       if args.command == "refs" else None)
        except Exception as err:  # report every notebook, then fail
            failed.append(path.name)
            print(f"FAILED {path.name}: {type(err).__name__}: {str(err)[:2000]}", file=sys.stderr)
            continue
        print(f"{args.command} {path.name} ({args.profile} profile): {time.perf_counter() - t0:.0f} s"
              + (f" -> {written}" if written else f" -> {out / path.name}"))
    if summary:
        print("\n" + progress_lines.summary_table(summary))
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
