"""Exercise markers and student versions.

An instructor notebook marks its exercises the nbgrader way (see docs/CONVENTIONS.md):

* a *solution* cell is tagged ``solution``, has metadata ``{"genlabs": {"exercise": name}}``, and
  holds the answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines;
* a *check* cell is tagged ``check`` (public) or ``check`` + ``hidden``, has metadata
  ``{"genlabs": {"exercise": name, "points": n}}``, and ``### INPUTS`` (optional), ``### EXPORT`` and
  ``### ASSERT`` sections (:mod:`labutils.tools.grade.checks`).

:func:`student_version` turns an instructor notebook into the one handed out: answers replaced by
``# YOUR CODE HERE`` / ``raise NotImplementedError``, outputs cleared, hidden checks removed, and a
metadata record (exercises, points, a hash of every check cell) that grading compares against.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from labutils.tools.grade import checks

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SOLUTION_TAG, CHECK_TAG, HIDDEN_TAG, NOTE_TAG = "solution", "check", "hidden", "grading-note"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError")
MARKDOWN_STUB = ("YOUR ANSWER HERE",)
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
# Lines that look like a marker: a mistyped one (``### END SOLUTON``) must stop the parse, not be read as a comment.
BEGIN_END_LIKE = re.compile(r"^#{2,}\s*(BEGIN|END)\b|^#+\s*(begin|end)\s*(solu|hidden|test)", re.IGNORECASE)
CAPS_MARKER_LIKE = re.compile(r"^#{2,}\s*[A-Z][A-Z0-9_]+( +[A-Z0-9_]+)*$")


@dataclass(frozen=True)
class Check:
    """One check cell of an exercise, in notebook order."""

    exercise: str
    points: float
    hidden: bool
    source: str
    cell_id: str
    sha256: str

    @property
    def sections(self) -> checks.Sections:
        """INPUTS, EXPORT and ASSERT (validated when the notebook was parsed)."""
        return checks.split(self.source)


@dataclass
class Exercise:
    """An exercise: its solution cells' ids and its check cells, in notebook order."""

    name: str
    solution_ids: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks)


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def genlabs_meta(cell: nbformat.NotebookNode) -> dict:
    meta = cell.get("metadata", {}).get("genlabs", {})
    return meta if isinstance(meta, dict) else {}


def is_check(cell: nbformat.NotebookNode) -> bool:
    return CHECK_TAG in tags(cell)


def normalize(source: str | list[str]) -> str:
    """Source with line endings, trailing spaces and trailing blank lines made canonical."""
    text = "".join(source) if isinstance(source, list) else source
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def source_hash(source: str | list[str]) -> str:
    """SHA-256 of the normalized source: what grading compares check cells by."""
    return hashlib.sha256(normalize(source).encode("utf-8")).hexdigest()


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook as nbformat 4, giving cells without an id a stable one (name + position)."""
    nb = nbformat.read(str(path), as_version=4)
    ensure_ids(nb, Path(path).stem)
    return nb


def ensure_ids(nb: nbformat.NotebookNode, name: str) -> None:
    """Give every cell an id (nbformat 4.5); missing ones are derived from ``name`` and position."""
    nb.nbformat, nb.nbformat_minor = 4, max(int(nb.get("nbformat_minor", 0)), 5)
    for i, cell in enumerate(nb.cells):
        if not cell.get("id"):
            cell["id"] = hashlib.sha1(f"{name}:{i}".encode()).hexdigest()[:12]


def parse_exercises(nb: nbformat.NotebookNode, name: str = "notebook") -> list[Exercise]:
    """The exercises of an instructor notebook, in order of first appearance; validates the markers.

    Raises ValueError naming the notebook and cell when a marker is malformed: a BEGIN/END region in
    a cell not tagged ``solution``, unbalanced markers, a solution or check cell without an exercise
    name, a check without non-negative ``points``, or a check for an exercise with no solution cell.
    """
    exercises: dict[str, Exercise] = {}
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i} (id {cell.get('id')})"
        meta, cell_tags = genlabs_meta(cell), tags(cell)
        _check_marker_lines(cell, cell_tags, where)
        has_markers = BEGIN in cell.source or END in cell.source
        if has_markers and SOLUTION_TAG not in cell_tags:
            raise ValueError(f"{where} has solution markers but is not tagged '{SOLUTION_TAG}': tag it, "
                             "or the answer would be handed out to students")
        if SOLUTION_TAG in cell_tags:
            ex = meta.get("exercise")
            if not isinstance(ex, str) or not ex:
                raise ValueError(f"{where} is tagged '{SOLUTION_TAG}' but lacks metadata "
                                 '{"genlabs": {"exercise": "<name>"}}')
            _regions(cell.source, where)  # validates the markers
            exercises.setdefault(ex, Exercise(ex)).solution_ids.append(cell["id"])
        if CHECK_TAG in cell_tags:
            ex, points = meta.get("exercise"), meta.get("points")
            if not isinstance(ex, str) or not ex:
                raise ValueError(f"{where} is tagged '{CHECK_TAG}' but lacks metadata "
                                 '{"genlabs": {"exercise": "<name>", "points": <int>}}')
            if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
                raise ValueError(f"{where}: check of exercise {ex!r} needs non-negative numeric "
                                 f"metadata genlabs.points, got {points!r}")
            if cell.cell_type != "code":
                raise ValueError(f"{where}: check cells must be code cells")
            if ex not in exercises:
                raise ValueError(f"{where}: check of exercise {ex!r} comes before (or without) a "
                                 f"'{SOLUTION_TAG}' cell for it")
            checks.split(normalize(cell.source), where)  # validates the sections
            exercises[ex].checks.append(Check(ex, points, HIDDEN_TAG in cell_tags, normalize(cell.source),
                                              cell["id"], source_hash(cell.source)))
        elif HIDDEN_TAG in cell_tags:
            raise ValueError(f"{where} is tagged '{HIDDEN_TAG}' but not '{CHECK_TAG}'")
    return list(exercises.values())


def _check_marker_lines(cell: nbformat.NotebookNode, cell_tags: list[str], where: str) -> None:
    """ValueError naming ``where`` for a line that looks like a marker but is none this cell may hold.

    In any cell: a ``## BEGIN ...`` / ``## END ...`` line other than the two solution markers (a typo such
    as ``### END SOLUTON`` would otherwise be read as a comment: the answer handed out, or the notebook
    refused later for an unclosed region). In solution and check code cells: any all-capitals ``### WORD``
    line that is not one of that cell's markers (``### EXPROT``, nbgrader's ``### BEGIN HIDDEN TESTS``).
    """
    allowed: set[str] = {BEGIN, END} if SOLUTION_TAG in cell_tags else set()
    if CHECK_TAG in cell_tags:
        allowed |= set(checks.MARKERS)
    strict = cell.cell_type == "code" and (SOLUTION_TAG in cell_tags or CHECK_TAG in cell_tags)
    for n, line in enumerate(cell.source.split("\n"), 1):
        text = line.strip()
        if text in allowed or (text in (BEGIN, END) and SOLUTION_TAG not in cell_tags):
            continue  # a misplaced solution marker gets its own message below
        if BEGIN_END_LIKE.match(text) or (strict and CAPS_MARKER_LIKE.match(text)):
            known = sorted(allowed) or [BEGIN, END]
            raise ValueError(f"{where}, line {n}: {text!r} looks like a marker but is not one; this cell's "
                             f"markers are {', '.join(repr(k) for k in known)} (a typo?)")


def _regions(source: str, where: str) -> list[tuple[int, int]]:
    """(begin, end) line indices of every solution region; ValueError on unbalanced markers."""
    regions, start = [], None
    for i, line in enumerate(source.split("\n")):
        if line.strip() == BEGIN:
            if start is not None:
                raise ValueError(f"{where}: nested '{BEGIN}' (line {i + 1}); close the region first")
            start = i
        elif line.strip() == END:
            if start is None:
                raise ValueError(f"{where}: '{END}' without '{BEGIN}' (line {i + 1})")
            regions.append((start, i))
            start = None
        elif BEGIN in line or END in line:
            raise ValueError(f"{where}: line {i + 1} must hold the marker alone: {line.strip()!r}")
    if start is not None:
        raise ValueError(f"{where}: '{BEGIN}' (line {start + 1}) is never closed by '{END}'")
    if not regions:
        raise ValueError(f"{where} is tagged '{SOLUTION_TAG}' but has no '{BEGIN}' ... '{END}' region")
    return regions


def strip_solution(source: str, markdown: bool = False, where: str = "cell") -> str:
    """Replace every solution region by the stub, indented like the BEGIN line; keep the rest.

    >>> print(strip_solution("def f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n    ### END SOLUTION"))
    def f(x):
        # YOUR CODE HERE
        raise NotImplementedError
    """
    lines = source.split("\n")
    out: list[str] = []
    last = 0
    for begin, end in _regions(source, where):
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        out += lines[last:begin] + [indent + s for s in (MARKDOWN_STUB if markdown else CODE_STUB)]
        last = end + 1
    return "\n".join(out + lines[last:])


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


def lab_notebooks(directory: Path) -> list[Path]:
    """The ``NN_topic.ipynb`` notebooks of ``directory``, sorted."""
    return sorted(p for p in Path(directory).glob(NOTEBOOK_GLOB) if p.is_file())


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
