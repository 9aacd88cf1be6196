"""Exercise markers of the real labs: every notebook parses, and a mistyped marker names its notebook and cell.

A typo in a marker (``### END SOLUTON``) used to be read as a comment: the region stayed open and the
parse failed, and tests/unit/test_grade.py dropped the notebook from its parametrized tests without a
word. The parser now rejects every marker-like line that is no marker of its cell, and the tests below
run over every ``notebooks/NN_*.ipynb``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest

from labutils.tools.grade import markers, student
from tests.fixtures import synthetic

REPO = Path(__file__).resolve().parents[2]
LABS = markers.lab_notebooks(REPO / "notebooks")
WITH_EXERCISES = [p for p in LABS if any(markers.SOLUTION_TAG in markers.tags(c)
                                         for c in markers.read_notebook(p).cells)]


@pytest.mark.parametrize("path", LABS, ids=[p.stem for p in LABS])
def test_every_lab_notebook_parses(path):
    """A malformed marker fails here, with the notebook and the cell named (never a silent skip)."""
    exercises = markers.parse_exercises(markers.read_notebook(path), path.stem)
    assert all(ex.solution_ids for ex in exercises)
    assert (exercises != []) == (path in WITH_EXERCISES)


TYPOS = [
    ("solution", markers.END, "### END SOLUTON"),
    ("solution", markers.BEGIN, "### BEGIN SOLUTON"),
    ("solution", markers.END, "## END SOLUTION"),
    ("solution", markers.END, "### end solution"),
    ("check", "### EXPORT", "### EXPROT"),
    ("check", "### ASSERT", "### ASERT"),
    ("check", "### INPUTS", "### BEGIN HIDDEN TESTS"),
]


def _mistype(nb: nbformat.NotebookNode, tag: str, marker: str, typo: str) -> tuple[int, nbformat.NotebookNode]:
    for i, cell in enumerate(nb.cells):
        lines = cell.source.split("\n")
        hit = [n for n, line in enumerate(lines) if line.strip() == marker]
        if tag in markers.tags(cell) and hit:
            indent = re.match(r"\s*", lines[hit[0]]).group(0)
            lines[hit[0]] = indent + typo
            cell.source = "\n".join(lines)
            return i, cell
    raise AssertionError(f"no {tag} cell with {marker!r}")


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.stem for p in WITH_EXERCISES])
@pytest.mark.parametrize("tag, marker, typo", TYPOS, ids=[t[2] for t in TYPOS])
def test_a_mistyped_marker_in_a_lab_names_the_notebook_and_cell(path, tag, marker, typo):
    nb = copy.deepcopy(markers.read_notebook(path))
    i, cell = _mistype(nb, tag, marker, typo)
    with pytest.raises(ValueError) as info:
        markers.parse_exercises(nb, path.stem)
    text = str(info.value)
    assert path.stem in text and f"cell {i} " in text and cell["id"] in text, text
    with pytest.raises(ValueError):
        student.student_version(nb, path.stem)


def test_marker_like_lines_outside_exercise_cells_and_markdown_headings():
    nb = synthetic.demo_notebook()
    ok = nbformat.v4.new_markdown_cell("### RESULTS\n\n### Why it works")  # headings, not markers
    ok2 = nbformat.v4.new_code_cell("### PLOT\nx = 1  # an ordinary cell may use capitals")
    nb.cells += [ok, ok2]
    assert [e.name for e in markers.parse_exercises(nb, "01_demo")] == ["square", "mean"]
    bad = nbformat.v4.new_code_cell("### BEGIN SOLUTON\nanswer = 42\n### END SOLUTON")
    bad["id"] = "typo-untagged"
    nb.cells.append(bad)
    with pytest.raises(ValueError, match="typo-untagged.*looks like a marker"):
        markers.parse_exercises(nb, "01_demo")
