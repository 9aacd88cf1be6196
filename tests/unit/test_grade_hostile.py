"""Submissions that attack the grader (tests/fixtures/hostile.py), graded once in one sandboxed batch.

Every attack class of issue #15 has a cheat here; none solves anything, so each must score 0, while
the honest control gets full marks in the same batch. The batch also checks that no file appears
outside OUT, that no process of a run outlives it, that the instructor notebook and the network are
out of reach, and that the gradebook after the run is the grader's.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from labutils import grading
from labutils.tools.grade import __main__ as cli
from labutils.tools.grade import gradebook, runner
from tests.fixtures import hostile, synthetic

TIMEOUT = 90.0


class Listener:
    """A TCP server on the host's loopback that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def sandboxed_processes(out: Path) -> list[psutil.Process]:
    """Processes whose environment points into ``out`` (every process a graded run started)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(grading.EXPORTS_ENV, "").startswith(str(out.resolve())):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def files_under(root: Path, skip: Path) -> dict[str, float]:
    return {str(p): p.lstat().st_mtime for p in root.rglob("*") if skip not in (p, *p.parents)}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    instructor = synthetic.demo_instructor(base / "instructor")
    out, outside = base / "out", base / "outside"
    outside.mkdir()
    listener = Listener()
    token = f"genlabs{listener.port}"
    targets = hostile.Targets(instructor.parent, out, outside, token, listener.port)
    subs = base / "subs"
    for student, nb in {**hostile.cheats(targets), "honest": hostile.honest(), "alice": hostile.honest(),
                        "alice\t": hostile.honest()}.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, str(subs / student / "01_demo.ipynb"))
    cache = Path.home() / ".cache" / "genlabs"
    before = files_under(base, out)
    rows = runner.grade_batch(subs, out, instructor_dir=instructor.parent, workers=2, timeout=TIMEOUT)
    survivors = sandboxed_processes(out)
    gradebook_after = (out / "gradebook.csv").read_text()
    time.sleep(3)  # a daemon that survived would rewrite the gradebook within 0.2 s
    listener.close()
    yield {"rows": rows, "out": out, "base": base, "before": before, "after": files_under(base, out),
           "survivors": survivors, "gradebook_after": gradebook_after, "token": token, "listener": listener,
           "cache": cache, "subs": subs, "instructor": instructor}


def points(rows: list[gradebook.Row], student: str) -> float:
    return sum(r.points for r in rows if r.student == student)


def printed(attacked, student: str) -> str:
    """Everything the student's kernel printed, from the executed notebook the grader kept."""
    nb = nbformat.read(str(attacked["out"] / "executed" / runner.slug(student) / "01_demo.ipynb"), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def test_the_honest_controls_get_full_marks(attacked):
    for student in ("honest", "alice"):
        rows = [r for r in attacked["rows"] if r.student == student]
        assert len(rows) == 2 and all(r.passed and r.points == r.max_points == 3 for r in rows), rows


@pytest.mark.parametrize("student", ["rewrite_pass", "rewrite_verdicts", "rewrite_forge"])
def test_rewriting_what_runs_gets_nothing(attacked, student):
    assert points(attacked["rows"], student) == 0, [r for r in attacked["rows"] if r.student == student]


def test_swallowing_errors_gets_nothing(attacked):
    rows = [r for r in attacked["rows"] if r.student == "swallow_errors"]
    assert points(rows, "swallow_errors") == 0 and "NotImplementedError" in rows[0].error + rows[1].error


@pytest.mark.parametrize("student", ["patch_builtins", "patch_equality"])
def test_monkeypatching_what_checks_use_gets_nothing(attacked, student):
    rows = [r for r in attacked["rows"] if r.student == student]
    assert points(rows, student) == 0, rows
    if student == "patch_equality":
        assert "cannot be exported" in next(r.error for r in rows if r.exercise == "square")


def test_the_instructor_notebook_and_hidden_checks_are_out_of_reach(attacked):
    assert points(attacked["rows"], "read_answers") == 0
    text = printed(attacked, "read_answers")
    assert "instructor notebook opened: []" in text and "hidden ASSERT readable: False" in text
    assert text.count("cannot open") == 4


def test_results_are_the_graders_alone(attacked):
    out = attacked["out"]
    assert points(attacked["rows"], "forge_results") == 0
    assert not (out / "rows" / "zz_forged").exists()
    assert attacked["survivors"] == [], "a process of a graded run outlived it"
    assert (out / "gradebook.csv").read_text() == attacked["gradebook_after"] == gradebook.to_csv(attacked["rows"])
    assert attacked["token"] not in (out / "summary.md").read_text()
    assert not list((attacked["base"] / "outside").iterdir()), "the daemon wrote outside the sandbox"


def test_gradebook_accepts_only_rows_the_grader_signed(attacked, tmp_path, capsys):
    out = tmp_path / "out"
    import shutil

    shutil.copytree(attacked["out"], out)
    assert cli.main(["gradebook", str(out)]) == 0
    assert (out / "gradebook.csv").read_text() == attacked["gradebook_after"]
    forged_row = [dict(student="zz_forged", notebook="01_demo", exercise="square", points=3.0, max_points=3.0,
                       passed=True, error="")]
    (out / "rows" / "zz_forged").mkdir()
    (out / "rows" / "zz_forged" / "01_demo.json").write_text(json.dumps(forged_row))  # the old format
    signed = json.loads((out / "rows" / "honest" / "01_demo.json").read_text())
    (out / "rows" / "zz_moved").mkdir()
    (out / "rows" / "zz_moved" / "01_demo.json").write_text(json.dumps(signed))  # a signed file, moved
    edited = json.loads((out / "rows" / "rewrite_pass" / "01_demo.json").read_text())
    edited["rows"] = edited["rows"].replace('"points": 0.0', '"points": 3.0')
    (out / "rows" / "rewrite_pass" / "01_demo.json").write_text(json.dumps(edited))  # a signed file, edited
    assert cli.main(["gradebook", str(out)]) == 0
    refused = capsys.readouterr().err
    assert refused.count("refused") == 3 and "zz_forged" in refused and "zz_moved" in refused
    rows = gradebook.read_csv(out / "gradebook.csv")
    assert {r.student for r in rows} == {r.student for r in attacked["rows"]} - {"rewrite_pass"}


def test_name_collisions_stay_two_students(attacked):
    names = {r.student for r in attacked["rows"]}
    tabbed = gradebook.clean_name("alice\t")
    assert "alice" in names and tabbed in names and tabbed != "alice"
    assert points(attacked["rows"], "alice") == points(attacked["rows"], tabbed) == 6


def test_no_side_doors_files_network_or_shared_cache(attacked):
    token = attacked["token"]
    assert points(attacked["rows"], "side_doors") == 0
    assert attacked["before"] == attacked["after"], "grading wrote or touched files outside OUT"
    assert not list(Path("/tmp").glob(f"escape-{token}")) and not list(attacked["cache"].glob(f"*{token}*"))
    assert not list(attacked["instructor"].parent.glob(f"*{token}*"))
    text = printed(attacked, "side_doors")
    assert attacked["listener"].accepted == 0 and "network reached" not in text
    assert text.count("network unreachable") == 2
    out = attacked["out"].resolve()
    assert all(out in p.resolve().parents for p in out.rglob("*"))
