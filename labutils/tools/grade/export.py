"""Course folders for nbgrader and otter-grader, rendered from the labs' own exercises and check cells.

``python -m labutils.grade export --to nbgrader|otter --out DIR [NOTEBOOK ...]``. One source of truth:
each check cell's INPUTS, EXPORT and ASSERT sections, run top to bottom, are a plain assert cell
(docs/GRADING.md); this module renders that cell in each tool's in-kernel form.

* **nbgrader** (:func:`to_nbgrader`, :func:`write_nbgrader`): ``DIR/source/<NN_topic>/<NN_topic>.ipynb``
  with ``metadata.nbgrader`` on every exercise cell (solution cells with a ``grade_id``; checks as locked
  autograder test cells with their points; a hidden check's code between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``), and ``DIR/nbgrader_config.py`` (CI profile, cell timeout, python3 kernel).
* **otter** (:func:`to_otter`, :func:`write_otter`): ``DIR/<NN_topic>/<NN_topic>.ipynb`` in otter assign's
  format: an ``# ASSIGNMENT CONFIG`` raw cell, one question per exercise (``# BEGIN QUESTION`` with the
  points of each test), solution cells between ``# BEGIN SOLUTION`` / ``# END SOLUTION`` raw cells with
  the answer between in-cell ``# BEGIN SOLUTION`` / ``# END SOLUTION`` lines, checks as test cells in
  ``# BEGIN TESTS`` blocks (hidden ones opened by ``# HIDDEN``).

Both tools run a test cell in the student's kernel and judge it by its output: nbgrader fails a test
cell that writes to stderr, otter's doctests fail on any printed output. Each rendered check therefore
runs inside a block that ignores Python warnings (the MNIST offline fall-back, deprecations) and
swallows stderr, and, for otter, stdout as well (the check's verdict ``print``). A failed assertion
still raises through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import nbformat

from labutils.tools.grade import export_cells, markers, student

TOOLS = ("nbgrader", "otter")
NBGRADER_VERSION, OTTER_VERSION = "0.9.6", "7.0.0"  # tested with (tests/unit/test_grade_export_tools.py)
CELL_TIMEOUT = 600  # seconds per cell under nbgrader: a lab's CI run, training cells included, takes less in all
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
OTTER_BEGIN, OTTER_END = "# BEGIN SOLUTION", "# END SOLUTION"


# --- nbgrader ----------------------------------------------------------------------------------------------


def nbgrader_check_source(ex: markers.Exercise, k: int) -> str:
    """A check as an nbgrader autograder test cell: a hidden check's code inside the hidden-tests region."""
    check = ex.checks[k]
    kind = "hidden check" if check.hidden else "check"
    head = [f"# {kind} {k + 1} of exercise {ex.name!r} ({check.points:g} point{'' if check.points == 1 else 's'})"]
    head += [] if check.hidden else export_cells.header_comments(check)
    body = export_cells.quiet(export_cells.plain_body(check), stdout=False)
    if check.hidden:
        return "\n".join(head + ["# (its code is added when your notebook is graded)", HIDDEN_BEGIN, body, HIDDEN_END])
    return "\n".join(head + [body])


def to_nbgrader(nb: nbformat.NotebookNode, name: str, keep: Iterable[str] | None = None) -> nbformat.NotebookNode:
    """The instructor notebook ``nb`` as an nbgrader source notebook (``nb`` is left unchanged)."""
    nb, exercises, where = export_cells.prepared(nb, name, keep)
    by_name = {ex.name: ex for ex in exercises}
    solution_count: dict[str, int] = {}
    cells = []
    for cell in nb.cells:
        cell_tags, ex_name = markers.tags(cell), markers.genlabs_meta(cell).get("exercise")
        new = export_cells.clean(cell)
        if markers.SOLUTION_TAG in cell_tags:
            n = solution_count[ex_name] = solution_count.get(ex_name, 0) + 1
            meta = {"grade": False, "solution": True, "locked": False, "task": False, "schema_version": 3,
                    "grade_id": f"{ex_name}-solution{'' if n == 1 else f'-{n}'}"}
            if cell.cell_type == "markdown":  # a written answer: graded by hand, worth no automatic points
                meta.update(grade=True, points=0)
            new.metadata["nbgrader"] = meta
        elif markers.CHECK_TAG in cell_tags:
            ex, k = where[cell["id"]]
            new.source = nbgrader_check_source(by_name[ex.name], k)
            new.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "task": False,
                                        "schema_version": 3, "points": ex.checks[k].points,
                                        "grade_id": f"{ex.name}-check-{k + 1}"}
        cells.append(new)
    return export_cells.finish(nb, cells)


NBGRADER_CONFIG = '''"""nbgrader settings for the genlabs labs (`python -m labutils.grade export --to nbgrader`).

Run nbgrader from this folder, with the Python environment that has the labs' dependencies and labutils:
    nbgrader generate_assignment NN_topic          # release/NN_topic/: answers stubbed, hidden tests removed
    nbgrader autograde NN_topic                    # submitted/<student>/NN_topic/ -> autograded/, gradebook.db
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader when it reads this file

c.CourseDirectory.course_id = "genlabs"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# Autograde in the labs' CI profile (small trainings, the profile the checks' bounds are derived for): the labs'
# parameter is PROFILE = "auto", and $GENLABS_PROFILE wins over it; kernels inherit this process's environment.
os.environ["GENLABS_PROFILE"] = "ci"
os.environ.setdefault("MPLBACKEND", "Agg")

# nbgrader's default of 30 s per cell kills the labs' training cells; a whole CI lab runs in less than this.
c.Execute.timeout = {timeout}
c.Execute.kernel_name = "python3"
c.Execute.interrupt_on_timeout = True

# The labs' stubs, as in `python -m labutils.grade student`.
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError"}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
'''


def write_nbgrader(labs: dict[Path, nbformat.NotebookNode], out: Path,
                   chosen: dict[str, set[str]] | None = None) -> list[tuple[Path, list[markers.Exercise]]]:
    """``out/nbgrader_config.py`` and ``out/source/<NN_topic>/<NN_topic>.ipynb`` for every lab."""
    written = []
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(timeout=CELL_TIMEOUT))
    for path, nb in labs.items():
        keep = None if chosen is None else chosen[path.stem]
        rendered = to_nbgrader(nb, path.stem, keep)
        target = out / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(rendered, str(target))
        written.append((target, markers.parse_exercises(student.unselect(nb, path.stem, keep), path.stem)))
    return written


# --- otter ---------------------------------------------------------------------------------------------------


def _raw(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_raw_cell(text)


def otter_solution_source(source: str) -> str:
    """The solution regions marked the otter way (``# BEGIN SOLUTION`` / ``# END SOLUTION``, same indent)."""
    out = []
    for line in source.split("\n"):
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        out.append(indent + OTTER_BEGIN if stripped == markers.BEGIN else
                   indent + OTTER_END if stripped == markers.END else line)
    return "\n".join(out)


def otter_test_source(ex: markers.Exercise, k: int) -> str:
    """A check as an otter test cell: silent (otter's doctests expect no output); ``# HIDDEN`` when hidden."""
    check = ex.checks[k]
    first = "# HIDDEN" if check.hidden else f"# public check {k + 1} of exercise {ex.name}"
    return "\n".join([first, export_cells.quiet(export_cells.plain_body(check), stdout=True)])


def otter_config(name: str) -> str:
    return "\n".join([
        "# ASSIGNMENT CONFIG",
        f"name: {name}",
        "init_cell: true",
        "check_all_cell: false",
        "export_cell: false",
        "run_tests: false  # the tests need the lab run first: `otter run` on a solved notebook checks them",
        "requirements: requirements.txt",
        "tests:",
        "  files: false",
        "  ok_format: true",
    ])


def _span(nb: nbformat.NotebookNode, ex: markers.Exercise) -> tuple[int, int]:
    ids = set(ex.solution_ids) | {c.cell_id for c in ex.checks}
    found = [i for i, c in enumerate(nb.cells) if c.get("id") in ids]
    return found[0], found[-1]


def to_otter(nb: nbformat.NotebookNode, name: str, keep: Iterable[str] | None = None) -> nbformat.NotebookNode:
    """The instructor notebook ``nb`` as an otter assign master notebook (``nb`` is left unchanged).

    Each exercise becomes one question, from its first solution cell to its last check; cells between them
    stay where they are, inside the question. ValueError when two exercises' spans overlap.
    """
    nb, exercises, where = export_cells.prepared(nb, name, keep)
    by_name = {ex.name: ex for ex in exercises}
    spans = {ex.name: _span(nb, ex) for ex in exercises}
    ordered = sorted(spans.items(), key=lambda kv: kv[1])
    for (a, (_, a_end)), (b, (b_start, _)) in zip(ordered, ordered[1:]):
        if b_start <= a_end:
            raise ValueError(f"{name}: exercises {a!r} and {b!r} interleave; otter questions cannot nest")
    starts = {s: ex for ex, (s, _) in spans.items()}
    ends = {e: ex for ex, (_, e) in spans.items()}
    cells = [_raw(otter_config(name))]
    in_tests = False
    for i, cell in enumerate(nb.cells):
        cell_tags = markers.tags(cell)
        is_test = markers.CHECK_TAG in cell_tags
        if in_tests and not is_test:
            cells.append(_raw("# END TESTS"))
            in_tests = False
        if i in starts:
            ex = by_name[starts[i]]
            points = ", ".join(f"{c.points:g}" for c in ex.checks)
            cells.append(_raw(f"# BEGIN QUESTION\nname: {ex.name}" + (f"\npoints: [{points}]" if ex.checks else "")))
        new = export_cells.clean(cell)
        if markers.SOLUTION_TAG in cell_tags:
            new.source = otter_solution_source(cell.source)
            cells += [_raw("# BEGIN SOLUTION"), new, _raw("# END SOLUTION")]
        elif is_test:
            ex, k = where[cell["id"]]
            if not in_tests:
                cells.append(_raw("# BEGIN TESTS"))
                in_tests = True
            new.source = otter_test_source(by_name[ex.name], k)
            cells.append(new)
        else:
            cells.append(new)
        if i in ends:
            if in_tests:
                cells.append(_raw("# END TESTS"))
                in_tests = False
            cells.append(_raw("# END QUESTION"))
    return export_cells.finish(nb, cells)


def requirements() -> str:
    """requirements.txt for otter's grading image: the project's own dependencies, from pyproject.toml."""
    import tomllib

    root = Path(__file__).resolve().parents[3]
    deps: list[str] = []
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        deps = tomllib.loads(pyproject.read_text()).get("project", {}).get("dependencies", [])
    return "\n".join(["# the labs' dependencies (pyproject.toml); the grading image also needs labutils itself:",
                      "# pip install <this repository>", *deps]) + "\n"


def write_otter(labs: dict[Path, nbformat.NotebookNode], out: Path,
                chosen: dict[str, set[str]] | None = None) -> list[tuple[Path, list[markers.Exercise]]]:
    """``out/<NN_topic>/<NN_topic>.ipynb`` (otter assign format) and its requirements.txt, for every lab."""
    written = []
    for path, nb in labs.items():
        keep = None if chosen is None else chosen[path.stem]
        rendered = to_otter(nb, path.stem, keep)
        target = out / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(rendered, str(target))
        (target.parent / "requirements.txt").write_text(requirements())
        written.append((target, markers.parse_exercises(student.unselect(nb, path.stem, keep), path.stem)))
    return written


def export(tool: str, notebooks: Iterable[Path], out: Path,
           exercises: Iterable[str] | None = None) -> list[tuple[Path, list[markers.Exercise]]]:
    """Write the course folder for ``tool`` (``nbgrader`` or ``otter``); returns (notebook written, exercises)."""
    if tool not in TOOLS:
        raise ValueError(f"--to must be one of {', '.join(TOOLS)}, not {tool!r}")
    labs = student.read_labs(notebooks)
    out = Path(out)
    if any(out.resolve() == p.parent.resolve() for p in labs):
        raise ValueError(f"refusing to write into the instructor folder {out}: choose another --out")
    chosen = student.selection_of(labs, exercises)
    return (write_nbgrader if tool == "nbgrader" else write_otter)(labs, out, chosen)


__all__ = ["TOOLS", "export", "to_nbgrader", "to_otter", "write_nbgrader", "write_otter"]
