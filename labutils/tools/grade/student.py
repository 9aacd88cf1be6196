"""Student versions: an instructor notebook with its answers stubbed and its hidden checks removed.

:func:`student_version` turns an instructor notebook (exercises marked as :mod:`labutils.tools.grade.markers`
parses them) into the one handed out: answers replaced by ``# YOUR CODE HERE`` / ``raise
NotImplementedError``, outputs cleared, hidden checks removed, a grading note added, and a metadata record
(exercises, points, a hash of every check cell) that grading compares against. ``--exercises`` hands out a
subset (:func:`unselect`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat

from labutils.tools.grade.markers import (
    BEGIN,
    CHECK_TAG,
    END,
    HIDDEN_TAG,
    NOTE_TAG,
    SOLUTION_TAG,
    Exercise,
    ensure_ids,
    genlabs_meta,
    is_check,
    parse_exercises,
    read_notebook,
    strip_solution,
    tags,
)


def record(exercises: Iterable[Exercise], name: str) -> dict:
    """The metadata record stored in a student notebook: exercises, points, and check hashes."""
    return {"notebook": name, "exercises": [
        {"name": ex.name, "max_points": ex.max_points,
         "checks": [{"id": c.cell_id, "sha256": c.sha256, "points": c.points, "hidden": c.hidden}
                    for c in ex.checks]}
        for ex in exercises]}


def _note_cell(exercises: list[Exercise]) -> nbformat.NotebookNode:
    rows = [f"| `{ex.name}` | {sum(not c.hidden for c in ex.checks)} | {sum(c.hidden for c in ex.checks)} "
            f"| {ex.max_points:g} |" for ex in exercises]
    text = "\n".join([
        "**Grading.** Replace each `raise NotImplementedError` by your answer. Your notebook is graded",
        "by re-running it from top to bottom in the CI profile (`GENLABS_PROFILE=ci`) in a sandbox, with a",
        "time limit for the whole notebook. Each check cell computes values from your code (its `### EXPORT`",
        "part, on inputs drawn at grading time) and the grader judges them outside your notebook (its",
        "`### ASSERT` part), so do not edit or delete check cells (the original versions run anyway);",
        "*hidden* checks test the same exercise on other inputs and are added at grading.", "",
        "| exercise | public checks | hidden checks | points |", "|---|---|---|---|", *rows])
    cell = nbformat.v4.new_markdown_cell(text)
    cell["id"] = "genlabs-grading-note"
    cell.metadata["tags"] = [NOTE_TAG]
    return cell


def parse_selection(specs: Iterable[str], found: dict[str, list[Exercise]]) -> dict[str, set[str]]:
    """The exercises to hand out, per notebook, from ``--exercises`` specs (``NAME`` or ``NN_topic:NAME``).

    ``found`` maps each notebook's stem to its exercises. A plain ``NAME`` selects that exercise in every
    notebook that has it. ValueError when a spec names no exercise of these notebooks (with the known ones).
    """
    chosen: dict[str, set[str]] = {stem: set() for stem in found}
    for spec in (s.strip() for raw in specs for s in raw.split(",")):
        if not spec:
            continue
        stem, _, ex = spec.rpartition(":")
        hits = [st for st in found if (not stem or st == stem) and any(e.name == ex for e in found[st])]
        if not hits:
            known = ", ".join(f"{st}:{e.name}" for st, exs in found.items() for e in exs) or "none"
            raise ValueError(f"--exercises {spec!r} names no exercise of these notebooks (known: {known})")
        for st in hits:
            chosen[st].add(ex)
    return chosen


def unselect(nb: nbformat.NotebookNode, name: str, keep: Iterable[str] | None) -> nbformat.NotebookNode:
    """A copy of instructor notebook ``nb`` where only the exercises in ``keep`` remain exercises.

    An exercise left out keeps its answer: its solution cells become ordinary cells (the marker lines
    dropped, the code between them kept), its public checks ordinary assert cells (they still run and
    print their verdict, ungraded), and its hidden checks are removed (kept secret for the year the
    exercise is handed out). ``keep=None`` keeps every exercise.
    """
    nb = copy.deepcopy(nb)
    ensure_ids(nb, name)
    exercises = parse_exercises(nb, name)
    if keep is None:
        return nb
    keep = set(keep)
    if unknown := keep - {ex.name for ex in exercises}:
        raise ValueError(f"{name} has no exercise {sorted(unknown)}; its exercises: {[e.name for e in exercises]}")
    cells = []
    for cell in nb.cells:
        ex = genlabs_meta(cell).get("exercise")
        cell_tags = tags(cell)
        if ex in keep or not (SOLUTION_TAG in cell_tags or CHECK_TAG in cell_tags):
            cells.append(cell)
            continue
        if HIDDEN_TAG in cell_tags:
            continue
        if SOLUTION_TAG in cell_tags:
            cell.source = "\n".join(line for line in cell.source.split("\n") if line.strip() not in (BEGIN, END))
        cell.metadata["tags"] = [t for t in cell_tags if t not in (SOLUTION_TAG, CHECK_TAG)]
        if not cell.metadata["tags"]:
            del cell.metadata["tags"]
        cell.metadata.pop("genlabs", None)
        cells.append(cell)
    nb.cells = cells
    return nb


def student_version(nb: nbformat.NotebookNode, name: str, keep: Iterable[str] | None = None) -> nbformat.NotebookNode:
    """The student notebook made from instructor notebook ``nb`` (which is left unchanged).

    ``keep``: the exercises to hand out (default: all); the others keep their answers (:func:`unselect`).
    """
    nb = unselect(nb, name, keep)
    exercises = parse_exercises(nb, name)
    cells = []
    for i, cell in enumerate(nb.cells):
        if is_check(cell) and HIDDEN_TAG in tags(cell):
            continue
        if NOTE_TAG in tags(cell):
            continue
        if SOLUTION_TAG in tags(cell):
            cell.source = strip_solution(cell.source, cell.cell_type == "markdown", f"{name}, cell {i}")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        for key in ("execution", "papermill", "widgets", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        cells.append(cell)
    if exercises:
        first_md = 1 if cells and cells[0].cell_type == "markdown" else 0
        cells.insert(first_md, _note_cell(exercises))
    nb.cells = cells
    for key in ("papermill", "widgets"):
        nb.metadata.pop(key, None)
    nb.metadata["genlabs"] = record(exercises, name)
    leaked = [c.get("id") for c in nb.cells if BEGIN in c.source or END in c.source]
    if leaked:  # cannot happen after parse_exercises; a last guard against handing out answers
        raise RuntimeError(f"{name}: solution markers left in cells {leaked}")
    nbformat.validate(nb)
    return nb


def read_labs(notebooks: Iterable[Path]) -> dict[Path, nbformat.NotebookNode]:
    """The instructor notebooks, read and checked (named ``NN_topic.ipynb``, markers valid)."""
    labs = {}
    for path in map(Path, notebooks):
        if not re.fullmatch(r"\d\d_[\w-]+\.ipynb", path.name):
            raise ValueError(f"{path}: lab notebooks are named NN_topic.ipynb")
        labs[path] = read_notebook(path)
        parse_exercises(labs[path], path.stem)
    return labs


def selection_of(labs: dict[Path, nbformat.NotebookNode], specs: Iterable[str] | None) -> dict[str, set[str]] | None:
    """``--exercises`` resolved against these notebooks (None: every exercise)."""
    specs = list(specs or [])
    if not specs:
        return None
    return parse_selection(specs, {p.stem: parse_exercises(nb, p.stem) for p, nb in labs.items()})


def write_student_versions(notebooks: Iterable[Path], out: Path,
                           exercises: Iterable[str] | None = None) -> list[tuple[Path, list[Exercise]]]:
    """Write the student version of each notebook into ``out``; returns (path written, exercises handed out).

    ``exercises``: ``--exercises`` specs (``NAME`` or ``NN_topic:NAME``); default: every exercise.
    """
    out = Path(out)
    labs = read_labs(notebooks)
    chosen = selection_of(labs, exercises)
    written = []
    for path, nb in labs.items():
        keep = None if chosen is None else chosen[path.stem]
        student = student_version(nb, path.stem, keep)
        out.mkdir(parents=True, exist_ok=True)
        target = out / path.name
        if target.resolve() == path.resolve():
            raise ValueError(f"refusing to overwrite the instructor notebook {path}: choose another --out")
        nbformat.write(student, str(target))
        written.append((target, parse_exercises(unselect(nb, path.stem, keep), path.stem)))
    return written
