"""Execute, strip and compare the lab notebooks (used by ``make run``, ``make refs`` and the tests).

Committed notebooks keep outputs only in cells marked ``# NBVAL_CHECK_OUTPUT``; those outputs are
the references that the tests compare, after the substitutions of ``tests/nbval_sanitize.cfg``
(nbval's file format and stream handling), with a fresh CI-profile execution.

    python -m labutils.notebooks run [--profile ci|full] [--out build/notebooks] [NOTEBOOK ...]
    python -m labutils.notebooks refs NOTEBOOK ...      # execute in CI profile, store checked outputs
    python -m labutils.notebooks strip NOTEBOOK ...     # drop every unchecked output in place
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from labutils.tools import launcher

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SANITIZE_FILE = REPO / "tests" / "nbval_sanitize.cfg"
_VOLATILE_CELL_META = ("execution", "papermill", "collapsed", "scrolled")


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
            extra_env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """Run ``src`` top to bottom with papermill (``PROFILE=profile``) in this environment's kernel.

    The kernel runs in the notebook's folder, with the environment of
    :func:`labutils.tools.launcher.kernel_env` (``$GENLABS_PROFILE``, this venv's python, sleeping OpenMP
    threads unless ``OMP_WAIT_POLICY`` is set) plus ``extra_env``, and inline figures. ``timeout`` is per
    cell, in seconds. Raises RuntimeError with the end of papermill's log when a cell fails.
    """
    src, dst = Path(src).resolve(), Path(dst).resolve()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="genlabs-run-") as tmp:
        env = launcher.kernel_env(profile=profile, jupyter_path=launcher.write_kernelspec(Path(tmp)),
                                  backend="module://matplotlib_inline.backend_inline", extra=extra_env)
        argv = launcher.papermill_argv(str(src), str(dst), profile=profile, cwd=str(src.parent), cell_timeout=timeout)
        done = launcher.run(argv, cwd=Path(tmp), env=env, timeout=None)
    if done.returncode:
        raise RuntimeError(f"{src.name} failed (papermill exit code {done.returncode}):\n{done.log_tail[-3000:]}")
    return nbformat.read(str(dst), as_version=4)


def _sanitize_patterns() -> list[tuple[str, str]]:
    from nbval.plugin import get_sanitize_patterns

    return get_sanitize_patterns(SANITIZE_FILE.read_text()) if SANITIZE_FILE.is_file() else []


def comparable(outputs) -> list[tuple[str, str]]:
    """Outputs as (kind, sanitized text), the way nbval --nbval-lax compares a checked cell.

    Streams of one name are joined (and ``\\r``/``\\b`` applied, by nbval's own function); images and
    widget views are not compared; errors compare by exception name.
    """
    from nbval.plugin import coalesce_streams

    patterns = _sanitize_patterns()

    def clean(s: str) -> str:
        for regex, repl in patterns:
            s = re.sub(regex, repl, s)
        return s

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labutils.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "refs", "strip"])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/NN_*.ipynb")
    parser.add_argument("--profile", default="ci", choices=["ci", "full"])
    parser.add_argument("--out", type=Path, default=None, help="folder for executed copies")
    args = parser.parse_intermixed_args(argv)
    paths = [p.resolve() for p in args.notebooks] or lab_notebooks()
    from labutils.results import build_dir

    out = args.out or build_dir() / ("notebooks" if args.command == "run" else "refs")
    failed = []
    for path in paths:
        t0 = time.perf_counter()
        if args.command == "strip":
            nbformat.write(strip(nbformat.read(path, as_version=4)), path)
            continue
        try:
            if args.command == "run":
                execute(path, out / path.name, profile=args.profile)
            else:
                refresh(path, out)
        except Exception as err:  # report every notebook, then fail
            failed.append(path.name)
            print(f"FAILED {path.name}: {type(err).__name__}: {str(err)[:2000]}", file=sys.stderr)
            continue
        print(f"{args.command} {path.name} ({args.profile if args.command == 'run' else 'ci'} profile): "
              f"{time.perf_counter() - t0:.0f} s -> {out / path.name}")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
