"""Choosing the exercises to hand out, and the nbgrader / otter renderings of the check cells (no real tools).

The round trips through the real nbgrader and otter-grader are in test_grade_export_tools.py (slow).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import warnings
from pathlib import Path

import nbformat
import pytest

from labutils.tools.grade import __main__ as cli
from labutils.tools.grade import export, export_cells, markers, runner, student
from labutils.tools.grade.markers import parse_exercises
from labutils.tools.grade.student import student_version
from tests.fixtures import synthetic

REPO = Path(__file__).resolve().parents[2]
LABS = [p for p in markers.lab_notebooks(REPO / "notebooks")
        if any(markers.SOLUTION_TAG in markers.tags(c) for c in markers.read_notebook(p).cells)]


# --- choosing the exercises ----------------------------------------------------------------------------------


def test_unselected_exercises_keep_their_answers_and_lose_their_hidden_checks():
    instructor = synthetic.demo_notebook()
    student = student_version(instructor, "01_demo", keep={"mean"})
    text = json.dumps(student)
    square_sol = synthetic.cell(student, "square-sol")
    assert square_sol.source == "def square(x):\n    return x * x", "the answer of an exercise not handed out stays"
    assert "solution" not in markers.tags(square_sol) and "genlabs" not in square_sol.metadata
    public = synthetic.cell(student, "square-pub")  # an ordinary assert cell now: runs, is not graded
    assert public.source == synthetic.SQUARE_PUBLIC and markers.tags(public) == []
    assert "square-hid" not in {c.get("id") for c in student.cells} and "math.isclose(g, v * v" not in text
    assert "np.sum(values)" not in text and "NotImplementedError" in synthetic.cell(student, "mean-sol").source
    assert [e["name"] for e in student.metadata["genlabs"]["exercises"]] == ["mean"]
    assert "| `square` |" not in synthetic.cell(student, "genlabs-grading-note").source
    # keep=None (the default) hands everything out; an empty choice nothing
    assert [e["name"] for e in student_version(instructor, "01_demo").metadata["genlabs"]["exercises"]] == [
        "square", "mean"]
    none = student_version(instructor, "01_demo", keep=set())
    assert "NotImplementedError" not in json.dumps(none) and none.metadata["genlabs"]["exercises"] == []
    with pytest.raises(ValueError, match="no exercise"):
        student_version(instructor, "01_demo", keep={"cube"})


def test_selection_specs_name_exercises_with_or_without_their_notebook():
    found = {"01_demo": parse_exercises(synthetic.demo_notebook(), "01_demo"),
             "02_other": parse_exercises(synthetic.demo_notebook(), "02_other")}
    assert student.parse_selection(["square"], found) == {"01_demo": {"square"}, "02_other": {"square"}}
    assert student.parse_selection(["02_other:mean,01_demo:square"], found) == {"01_demo": {"square"},
                                                                               "02_other": {"mean"}}
    with pytest.raises(ValueError, match="known: 01_demo:square"):
        student.parse_selection(["03_x:square"], found)


def test_cli_student_exercises_flag_and_the_grader_grades_only_those(tmp_path, capsys):
    instructor = synthetic.demo_instructor(tmp_path / "instructor")
    assert cli.main(["student", str(instructor), "--out", str(tmp_path / "student"), "--exercises", "mean"]) == 0
    assert "1 exercise, 3 points (2 in hidden checks)" in capsys.readouterr().out
    handed = nbformat.read(str(tmp_path / "student" / "01_demo.ipynb"), as_version=4)
    assert "return x * x" in json.dumps(handed) and "np.sum(values)" not in json.dumps(handed)
    assert cli.main(["student", str(instructor), "--out", str(tmp_path / "s2"), "--exercises", "cube"]) == 2
    assert "names no exercise" in capsys.readouterr().err
    settings = runner.make_settings(instructor.parent, tmp_path / "out", tmp_path / "subs", 60, use_sandbox=False,
                                    exercises=["01_demo:mean"])
    assert settings.exercises == frozenset({"01_demo:mean"})
    write = tmp_path / "subs" / "bob" / "01_demo.ipynb"
    write.parent.mkdir(parents=True)
    write.write_text("{}")  # not a notebook: a row for every graded exercise, and only those
    rows = runner.grade_one(runner.discover(tmp_path / "subs")[0], settings)
    assert [(r.exercise, r.max_points) for r in rows] == [("mean", 3.0)]


# --- rendering the checks ------------------------------------------------------------------------------------


def test_quiet_silences_warnings_and_streams_but_not_failures():
    body = ("import sys, warnings\nwarnings.warn('offline fallback', UserWarning)\nprint('x', file=sys.stderr)\n"
            "print('ok')")
    for stdout in (False, True):
        code = export_cells.quiet(body, stdout=stdout)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            exec(compile(code, "<check>", "exec"), {})
        assert err.getvalue() == "" and w == [] and out.getvalue() == ("" if stdout else "ok\n")
    with pytest.raises(AssertionError, match="must fail"):
        exec(compile(export_cells.quiet("x = 1\nassert x == 2, 'must fail'", stdout=True), "<check>", "exec"), {})


def test_quiet_keeps_multiline_strings_intact():
    body = 'text = """a\nb\n  c"""\nassert text == "a\\nb\\n  c"'
    code = export_cells.quiet(body, stdout=True)
    exec(compile(code, "<check>", "exec"), {})
    assert '"""a\nb\n  c"""' in code


def _cells_by_grade_id(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def test_nbgrader_rendering_of_the_demo():
    nb = export.to_nbgrader(synthetic.demo_notebook(), "01_demo")
    cells = _cells_by_grade_id(nb)
    assert set(cells) == {"square-solution", "square-check-1", "square-check-2", "mean-solution", "mean-check-1",
                          "mean-check-2"}
    sol = cells["square-solution"]
    assert sol.metadata["nbgrader"] == {"grade": False, "solution": True, "locked": False, "task": False,
                                        "schema_version": 3, "grade_id": "square-solution"}
    assert "### BEGIN SOLUTION" in sol.source and "### END SOLUTION" in sol.source  # nbgrader's own markers
    pub, hid = cells["square-check-1"], cells["square-check-2"]
    meta = pub.metadata["nbgrader"]
    assert meta["points"] == 1 and meta["grade"] and meta["locked"] and not meta["solution"]
    assert hid.metadata["nbgrader"]["points"] == 2
    lines = hid.source.split("\n")
    begin, end = lines.index(export.HIDDEN_BEGIN), lines.index(export.HIDDEN_END)
    assert all(line.startswith("#") for line in lines[:begin]) and end == len(lines) - 1
    assert "math.isclose" in "\n".join(lines[begin:end]) and export.HIDDEN_BEGIN not in pub.source
    assert "### INPUTS" not in pub.source and "### ASSERT" not in pub.source and "redirect_stderr" in pub.source
    assert "redirect_stdout" not in pub.source  # nbgrader shows the verdict; only stderr fails a test
    assert all(not {"solution", "check", "hidden"} & set(markers.tags(c)) and "genlabs" not in c.metadata
               for c in nb.cells)
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")
    nbformat.validate(nb)


def test_otter_rendering_of_the_demo():
    nb = export.to_otter(synthetic.demo_notebook(), "01_demo")
    raws = [c.source.split("\n")[0] for c in nb.cells if c.cell_type == "raw"]
    assert raws == ["# ASSIGNMENT CONFIG",
                    "# BEGIN QUESTION", "# BEGIN SOLUTION", "# END SOLUTION", "# BEGIN TESTS", "# END TESTS",
                    "# END QUESTION",
                    "# BEGIN QUESTION", "# BEGIN SOLUTION", "# END SOLUTION", "# BEGIN TESTS", "# END TESTS",
                    "# END QUESTION"]
    questions = [c.source for c in nb.cells if c.source.startswith("# BEGIN QUESTION")]
    assert questions == ["# BEGIN QUESTION\nname: square\npoints: [1, 2]",
                         "# BEGIN QUESTION\nname: mean\npoints: [1, 2]"]
    sol = next(c for c in nb.cells if c.cell_type == "code" and "def square" in c.source)
    assert sol.source == "def square(x):\n    # BEGIN SOLUTION\n    return x * x\n    # END SOLUTION"
    tests = [c for c in nb.cells if c.cell_type == "code" and "redirect_stdout" in c.source]
    assert [t.source.split("\n")[0] for t in tests] == ["# public check 1 of exercise square", "# HIDDEN",
                                                        "# public check 1 of exercise mean", "# HIDDEN"]
    for t in tests:  # otter unparses each test cell into a doctest: it must parse, and print nothing
        ast.parse(t.source)
    assert "compute done" in json.dumps(nb), "cells outside the exercises stay"
    nbformat.validate(nb)


def test_rendered_checks_run_as_one_kernel_would_and_fail_on_a_wrong_answer():
    """The rendered cells, run top to bottom in one namespace (what either tool does), pass for the
    instructor's answers, print nothing for otter, and fail for a wrong answer."""
    for render, check_key in ((export.to_nbgrader, "nbgrader"), (export.to_otter, None)):
        for wrong in (False, True):
            nb = render(synthetic.demo_notebook(), "01_demo")
            ns: dict = {}
            failures = 0
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                src = cell.source.replace("return x * x", "return x * abs(x)") if wrong else cell.source
                is_test = (check_key and cell.metadata.get(check_key, {}).get("grade")) or "redirect_stdout" in src
                out = io.StringIO()
                try:
                    with contextlib.redirect_stdout(out):
                        exec(compile(src, "<cell>", "exec"), ns)
                except AssertionError:
                    assert is_test
                    failures += 1
                if is_test and check_key is None:
                    assert out.getvalue() == "", "an otter test printed"
            assert failures == (2 if wrong else 0), (render.__name__, wrong)  # both checks of square


def test_otter_refuses_interleaved_exercises():
    nb = synthetic.demo_notebook()
    mean_sol = synthetic.cell(nb, "mean-sol")
    nb.cells.remove(mean_sol)
    nb.cells.insert(nb.cells.index(synthetic.cell(nb, "square-pub")), mean_sol)  # mean begins inside square
    with pytest.raises(ValueError, match="interleave"):
        export.to_otter(nb, "01_demo")


@pytest.mark.parametrize("path", LABS, ids=[p.stem for p in LABS])
def test_every_lab_renders_for_both_tools(path):
    nb = markers.read_notebook(path)
    exercises = parse_exercises(nb, path.stem)
    hidden = [c for ex in exercises for c in ex.checks if c.hidden]
    nbg = export.to_nbgrader(nb, path.stem)
    graded = [c for c in nbg.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert sum(c.metadata["nbgrader"]["points"] for c in graded) == sum(ex.max_points for ex in exercises)
    for cell in graded:
        if cell.cell_type == "code":
            ast.parse(cell.source)
    assert sum(export.HIDDEN_BEGIN in c.source for c in graded) == len(hidden)
    ot = export.to_otter(nb, path.stem)
    assert sum(c.source.startswith("# BEGIN QUESTION") for c in ot.cells) == len(exercises)
    assert sum(c.source.startswith("# HIDDEN") for c in ot.cells) == len(hidden)


def test_cli_export_writes_both_course_folders(tmp_path, capsys):
    instructor = synthetic.demo_instructor(tmp_path / "instructor")
    assert cli.main(["export", "--to", "nbgrader", "--out", str(tmp_path / "nbg"), str(instructor)]) == 0
    assert (tmp_path / "nbg" / "source" / "01_demo" / "01_demo.ipynb").is_file()
    config = (tmp_path / "nbg" / "nbgrader_config.py").read_text()
    assert 'os.environ["GENLABS_PROFILE"] = "ci"' in config and f"c.Execute.timeout = {export.CELL_TIMEOUT}" in config
    assert 'c.Execute.kernel_name = "python3"' in config
    compile(config, "nbgrader_config.py", "exec")
    assert cli.main(["export", "--to", "otter", "--out", str(tmp_path / "ot"), str(instructor),
                     "--exercises", "square"]) == 0
    ot = nbformat.read(str(tmp_path / "ot" / "01_demo" / "01_demo.ipynb"), as_version=4)
    assert sum(c.source.startswith("# BEGIN QUESTION") for c in ot.cells) == 1 and "np.sum(values)" in json.dumps(ot)
    assert (tmp_path / "ot" / "01_demo" / "requirements.txt").read_text().count("torch") >= 1
    assert "01_demo.ipynb: 1 exercise, 3 points" in capsys.readouterr().out
    assert cli.main(["export", "--to", "otter", "--out", str(instructor.parent), str(instructor)]) == 2
