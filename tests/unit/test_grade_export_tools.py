"""The nbgrader and otter-grader course folders, run through the real tools (slow: ``make test-slow``).

Each tool is installed from the package registry, at the version the export was written for, into a
scratch virtualenv (``build/tool-venvs/<tool>-<version>``, made once and reused; delete it to start
afresh). The scratch venv sees the project's own environment through a ``.pth`` file (torch and the
labs' other dependencies are not downloaded again) and the labutils of this checkout via PYTHONPATH.

Two labs: the synthetic demo (two exercises, tests/fixtures/synthetic.py) and 04_gan_derivation (its CI
profile runs in well under a minute on an idle CPU). For each tool: the student files it generates
contain no hidden check; an honest submission (the instructor's answers pasted into the student
version) gets full points and a stub submission (the student version as handed out) gets zero.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from labutils.results import build_dir
from labutils.tools.grade import export, export_cells, markers
from tests.fixtures import synthetic

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "notebooks" / "04_gan_derivation.ipynb"
PACKAGES = {"nbgrader": f"nbgrader=={export.NBGRADER_VERSION}", "otter": f"otter-grader=={export.OTTER_VERSION}"}
RUN_TIMEOUT = 3600  # seconds for one tool command (two CI runs of 04 took 9.5 min on a loaded 2-core machine)

pytestmark = pytest.mark.slow


def tool_venv(tool: str) -> Path:
    """A virtualenv with ``tool`` installed from the registry (made once under build/tool-venvs/)."""
    venv = REPO / "build" / "tool-venvs" / PACKAGES[tool].replace("==", "-")
    if (venv / ".installed").is_file():
        return venv
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    probe = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(venv / "bin" / "python"), "-c", probe], text=True).strip())
    (site / "zz_genlabs_project.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # after its own packages
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", PACKAGES[tool]], check=True,
                   timeout=1800)
    (venv / ".installed").write_text(PACKAGES[tool] + "\n")
    return venv


def tool_env(venv: Path) -> dict[str, str]:
    """The tool's bin/ first on PATH (nbgrader calls `alembic`), this checkout's labutils, the CI profile."""
    env = dict(os.environ)
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "PYTHONPATH": str(REPO),
                "GENLABS_PROFILE": "ci", "GENLABS_BUILD": str(build_dir()), "MPLBACKEND": "Agg",
                "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"})
    env.pop("JUPYTER_PATH", None)
    return env


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def labs(tmp_path_factory) -> list[Path]:
    demo = synthetic.demo_instructor(tmp_path_factory.mktemp("instructor"))
    return [demo, LAB]


def hidden_lines(path: Path) -> list[str]:
    """Distinctive lines of the hidden checks' code that no public check has (what must not reach a student)."""
    exercises = markers.parse_exercises(markers.read_notebook(path), path.stem)
    public = {line.strip() for ex in exercises for c in ex.checks if not c.hidden for line in c.source.split("\n")}
    lines = [line.strip() for ex in exercises for c in ex.checks if c.hidden
             for line in export_cells.plain_body(c).split("\n") if len(line.strip()) > 25 and line.strip() not in public
             and not line.strip().startswith(("import ", "from ", "#"))]
    assert lines, f"{path.stem} has no hidden check to look for"
    return lines


def assert_no_hidden_check(files: list[Path], path: Path) -> None:
    secrets = hidden_lines(path)
    assert files
    for f in files:
        text = f.read_text(errors="replace")
        if f.suffix == ".ipynb":  # the cells' text, unescaped
            text = "\n".join(c.source for c in nbformat.read(str(f), as_version=4).cells) + json.dumps(
                nbformat.read(str(f), as_version=4).metadata)
        leaked = [s for s in secrets if s in text or json.dumps(s)[1:-1] in text]
        assert not leaked and export.HIDDEN_BEGIN not in text, f"{f} holds hidden check code: {leaked[:3]}"


def max_points(path: Path) -> float:
    return sum(ex.max_points for ex in markers.parse_exercises(markers.read_notebook(path), path.stem))


# --- nbgrader ------------------------------------------------------------------------------------------------


def test_nbgrader_generate_assignment_and_autograde(labs, tmp_path):
    env = tool_env(tool_venv("nbgrader"))
    course = tmp_path / "course"
    export.export("nbgrader", labs, course)
    for path in labs:
        name = path.stem
        run(["nbgrader", "generate_assignment", name, "--force"], course, env)
        released = course / "release" / name / path.name
        assert_no_hidden_check(sorted((course / "release" / name).rglob("*.*")), path)
        source = nbformat.read(str(course / "source" / name / path.name), as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
        stub = nbformat.read(str(released), as_version=4)
        honest = copy.deepcopy(stub)
        for cell in honest.cells:
            if (gid := cell.metadata.get("nbgrader", {}).get("grade_id")) in answers:
                cell.source = answers[gid]
        for student, nb in (("honest", honest), ("stub", stub)):
            target = course / "submitted" / student / name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(target))
        run(["nbgrader", "autograde", name, "--force"], course, env)
    run(["nbgrader", "export"], course, env)
    with open(course / "grades.csv", newline="") as f:
        grades = {(r["assignment"], r["student_id"]): (float(r["score"]), float(r["max_score"]))
                  for r in csv.DictReader(f)}
    print("nbgrader grades:", grades)
    for path in labs:
        total = max_points(path)
        assert grades[(path.stem, "honest")] == (total, total), (path.stem, grades)
        assert grades[(path.stem, "stub")] == (0.0, total), (path.stem, grades)


# --- otter-grader --------------------------------------------------------------------------------------------


def otter_score(results: Path) -> tuple[float, float]:
    tests = json.loads(results.read_text())["tests"]
    scored = [t for t in tests if "max_score" in t and t.get("max_score") is not None]
    return sum(float(t.get("score") or 0) for t in scored), sum(float(t["max_score"]) for t in scored)


def test_otter_assign_and_run(labs, tmp_path):
    env = tool_env(tool_venv("otter"))
    course = tmp_path / "course"
    export.export("otter", labs, course)
    scores = {}
    for path in labs:
        name = path.stem
        dist = tmp_path / "dist" / name
        run(["otter", "assign", str(course / name / path.name), str(dist)], course / name, env)
        assert_no_hidden_check(sorted(p for p in (dist / "student").rglob("*") if p.is_file()), path)
        student = nbformat.read(str(dist / "student" / path.name), as_version=4)
        cases = [case for test in student.metadata["otter"]["tests"].values() for suite in test["suites"]
                 for case in suite["cases"]]  # otter keeps the public tests (unparsed, as doctests) in the notebook
        exercises = markers.parse_exercises(markers.read_notebook(path), name)
        assert len(cases) == sum(not c.hidden for ex in exercises for c in ex.checks)
        assert not any(case["hidden"] for case in cases)
        solved = nbformat.read(str(dist / "autograder" / path.name), as_version=4)
        assert len(student.cells) == len(solved.cells)
        honest = copy.deepcopy(student)
        for cell, answer in zip(honest.cells, solved.cells):
            cell.source = answer.source  # only the solution cells differ
        zips = sorted((dist / "autograder").glob(f"{name}-autograder_*.zip"))
        assert len(zips) == 1, zips
        for who, nb in (("honest", honest), ("stub", student)):
            sub = tmp_path / "subs" / name / who / path.name
            sub.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(sub))
            out = tmp_path / "results" / name / who
            out.mkdir(parents=True)
            run(["otter", "run", "--no-logo", "-a", str(zips[0]), "-o", str(out), str(sub)], sub.parent, env)
            scores[(name, who)] = otter_score(out / "results.json")
    print("otter scores:", scores)
    for path in labs:
        total = max_points(path)
        assert scores[(path.stem, "honest")] == (total, total), scores
        assert scores[(path.stem, "stub")] == (0.0, total), scores
