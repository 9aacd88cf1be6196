"""Exercise markers: which cells of an instructor notebook are answers and checks, validated.

An instructor notebook marks its exercises the nbgrader way (see docs/CONVENTIONS.md):

* a *solution* cell is tagged ``solution``, has metadata ``{"genlabs": {"exercise": name}}``, and
  holds the answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines;
* a *check* cell is tagged ``check`` (public) or ``check`` + ``hidden``, has metadata
  ``{"genlabs": {"exercise": name, "points": n}}``, and ``### INPUTS`` (optional), ``### EXPORT`` and
  ``### ASSERT`` sections (:mod:`labutils.tools.grade.checks`).

:func:`parse_exercises` reads them (a malformed or misspelt marker is a ValueError naming the notebook
and cell); :mod:`labutils.tools.grade.student` makes the version handed out.
"""

from __future__ import annotations

import hashlib
import re
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


def lab_notebooks(directory: Path) -> list[Path]:
    """The ``NN_topic.ipynb`` notebooks of ``directory``, sorted."""
    return sorted(p for p in Path(directory).glob(NOTEBOOK_GLOB) if p.is_file())
