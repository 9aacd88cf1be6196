"""A tiny instructor notebook and submissions made from it, for the tests and the benchmark.

``demo_instructor`` writes ``01_demo.ipynb`` with two exercises (``square``: a function;
``mean``: a value), each with one public and one hidden check, and a compute cell whose size
``reps`` sets; ``solved`` fills a student version in with the instructor's answers.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from labutils.grade.markers import SOLUTION_TAG, student_version, tags


def _code(source: str, cell_id: str, tag_list: tuple[str, ...] = (), **genlabs) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell["id"] = cell_id
    if tag_list:
        cell.metadata["tags"] = list(tag_list)
    if genlabs:
        cell.metadata["genlabs"] = genlabs
    return cell


def _md(source: str, cell_id: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source)
    cell["id"] = cell_id
    return cell


def demo_notebook(reps: int = 0) -> nbformat.NotebookNode:
    """The instructor notebook (in memory); ``reps`` matrix products make the compute cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        _md("# 01 · Demo\n\nTwo small exercises.", "title"),
        _code('PROFILE = "full"\nSEED = 0', "params", ("parameters",)),
        _code("import os\n\nimport numpy as np\n\n"
              'CI = os.environ.get("GENLABS_PROFILE", PROFILE) == "ci"\nN = 101 if CI else 10_001', "setup"),
        _md("## Exercise 1\n\nWrite `square(x)`.", "ex1"),
        _code("def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
              "square-sol", (SOLUTION_TAG,), exercise="square"),
        _code('assert square(3) == 9\nprint("square: public check passed")', "square-pub", ("check",),
              exercise="square", points=1),
        _code("assert square(-2) == 4 and square(0) == 0", "square-hid", ("check", "hidden"),
              exercise="square", points=2),
        _code(f"A = np.random.default_rng(SEED).standard_normal((256, 256))\nfor _ in range({reps}):\n"
              "    A = np.tanh(A @ A / 16)\nprint(\"compute done\")", "compute"),
        _md("## Exercise 2\n\nThe mean of `values`.", "ex2"),
        _code("values = list(range(N))\n### BEGIN SOLUTION\nmean = sum(values) / len(values)\n"
              '### END SOLUTION\nprint("mean computed")', "mean-sol", (SOLUTION_TAG,), exercise="mean"),
        _code("assert abs(mean - (N - 1) / 2) < 1e-9", "mean-pub", ("check",), exercise="mean", points=1),
        _code("assert isinstance(mean, float)", "mean-hid", ("check", "hidden"), exercise="mean", points=2),
    ]
    nbformat.validate(nb)
    return nb


def demo_instructor(directory: Path, reps: int = 0) -> Path:
    """Write the demo instructor notebook as ``directory/01_demo.ipynb``; returns its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "01_demo.ipynb"
    nbformat.write(demo_notebook(reps), str(path))
    return path


def solved(student: nbformat.NotebookNode, instructor: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version with every solution cell replaced by the instructor's (full marks)."""
    answers = {c["id"]: c.source for c in instructor.cells if SOLUTION_TAG in tags(c)}
    nb = copy.deepcopy(student)
    for cell in nb.cells:
        if cell.get("id") in answers:
            cell.source = answers[cell["id"]]
    return nb


def demo_submission(reps: int = 0, solve: bool = True) -> nbformat.NotebookNode:
    """A student version of the demo notebook, solved or left as handed out."""
    instructor = demo_notebook(reps)
    student = student_version(instructor, "01_demo")
    return solved(student, instructor) if solve else student


def cell(nb: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    """The cell of ``nb`` with id ``cell_id`` (KeyError naming the ids there when absent)."""
    for c in nb.cells:
        if c.get("id") == cell_id:
            return c
    raise KeyError(f"no cell {cell_id!r}; ids: {[c.get('id') for c in nb.cells]}")
