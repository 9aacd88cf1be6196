"""Check cells (INPUTS / EXPORT / ASSERT), the values that leave a kernel, and the sandbox itself.

The instructor notebook runs as it is, every check in one kernel (export + assert), and fails when a
solution is broken; the trusted judge decides on exported values alone, with inputs of its own; a
hostile export file is refused, never unpickled; the sandbox hides the host, cuts the network, kills
detached processes and limits memory; without bubblewrap the grader refuses with the package named.
"""

from __future__ import annotations

import io
import os
import sys
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from papermill.exceptions import PapermillExecutionError

from labutils import device, grading
from labutils.tools import launcher, notebooks
from labutils.tools.grade import __main__ as cli
from labutils.tools.grade import checks, runner, sandbox
from labutils.tools.grade.markers import parse_exercises
from tests.fixtures import synthetic


def _sections(check_id: str) -> checks.Sections:
    return checks.split(synthetic.cell(synthetic.demo_notebook(), check_id).source)


def test_the_instructor_notebook_runs_every_check_in_one_kernel_and_fails_on_a_broken_solution(tmp_path):
    path = synthetic.demo_instructor(tmp_path / "instructor")
    done = notebooks.execute(path, tmp_path / "run" / path.name, profile="ci", timeout=120)
    text = "".join(o.get("text", "") for c in done.cells for o in c.get("outputs", []))
    assert "square: public check passed" in text and "mean: public check passed" in text
    broken = nbformat.read(str(path), as_version=4)
    synthetic.cell(broken, "square-sol").source = ("def square(x):\n    ### BEGIN SOLUTION\n    return x + x\n"
                                                   "    ### END SOLUTION")
    nbformat.write(broken, str(path))
    with pytest.raises(PapermillExecutionError, match="square\\(x\\) must be x \\* x"):
        notebooks.execute(path, tmp_path / "run" / path.name, profile="ci", timeout=120)


def test_split_finds_the_exported_names_only_at_module_level():
    s = checks.split("# NBVAL_CHECK_OUTPUT\n### INPUTS\nx = 1\n### EXPORT\na, (b, c) = 1, (2, 3)\nd = [v for v in x]\n"
                     "def f():\n    hidden = 1\nfor i in range(2):\n    e = i\n### ASSERT\nassert a")
    assert s.exported == ("a", "b", "c", "d", "i", "e") and s.inputs == "x = 1"


def test_judge_decides_on_values_with_inputs_of_its_own():
    public = _sections("square-pub")
    with grading.seeded(123):
        x = [int(v) for v in grading.rng().integers(-50, 50, size=6)]
    assert checks.judge(public, {"got": [v * v for v in x]}, seed=123) is None
    assert "must be x * x" in checks.judge(public, {"got": [v * v for v in x]}, seed=124)  # other inputs
    forged = checks.judge(public, {"got": [0] * 6, "x": [0] * 6}, seed=123)  # an exported `x` is not taken
    assert forged == "AssertionError: square(x) must be x * x"
    hidden = _sections("mean-hid")
    assert checks.judge(hidden, {"m2": 50.0}, seed=1) is None
    assert checks.judge(hidden, {"m2": 50}, seed=1).startswith("AssertionError: assert isinstance(m2, float)")
    assert checks.judge(hidden, {}, seed=1) == "NameError: name 'm2' is not defined"
    bad_inputs = checks.split("### INPUTS\ny = square(2)\n### EXPORT\nz = 1\n### ASSERT\nassert z")
    assert "INPUTS failed outside the kernel" in checks.judge(bad_inputs, {"z": 1}, seed=0)


def test_judge_draws_inputs_in_the_lab_kernels_floating_point_mode():
    # A lab kernel flushes denormals (labutils.start on the CPU); an INPUTS value that is a float32 denormal
    # is 0 there. The grader must judge with the same numbers, or a correct answer fails (04's D*, once).
    cell = checks.split("### INPUTS\nimport torch\ntiny = torch.tensor(10.0) ** -40\n### EXPORT\nseen = float(tiny)\n"
                        "### ASSERT\nassert seen == float(tiny), (seen, float(tiny))")
    with device.denormals_flushed():  # what the kernel exported
        exported = {"seen": float(torch.tensor(10.0) ** -40)}
    assert exported == {"seen": 0.0}
    before = device.denormals_are_flushed()  # whatever an earlier test in this process left
    try:
        torch.set_flush_denormal(False)  # a grader process that never flushed
        assert checks.judge(cell, exported, seed=0) is None
        assert not device.denormals_are_flushed(), "judge must restore the grader's mode"
    finally:
        torch.set_flush_denormal(before)


def test_exported_values_round_trip_in_the_safe_format(tmp_path):
    values = {"n": 3, "f": 2.5, "inf": float("-inf"), "s": "x", "none": None, "b": True, "np_f": np.float32(1.5),
              "np_i": np.int64(7), "arr": np.arange(4.0).reshape(2, 2), "t": torch.ones(3, requires_grad=True) * 2,
              "state": torch.nn.Linear(2, 1).state_dict(), "nested": (1, [2.0, {"k": np.array([True])}])}
    grading.save_values(tmp_path, "c", values)
    back = grading.load_values(tmp_path, "c")
    assert back.keys() == values.keys() and back["n"] == 3 and back["inf"] == float("-inf") and back["none"] is None
    assert type(back["np_f"]) is float and type(back["np_i"]) is int and isinstance(back["nested"], tuple)
    assert np.array_equal(back["arr"], values["arr"]) and torch.equal(back["t"], values["t"].detach())
    assert not back["t"].requires_grad and set(back["state"]) == {"weight", "bias"}
    for bad in (object(), {1: 2}, np.array([object()]), lambda: 0):
        with pytest.raises(TypeError, match="cannot be exported|string keys|dtype"):
            grading.save_values(tmp_path, "bad", {"v": bad})


class Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/genlabs-unpickled",))


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a0.npy", b"\0" * 300_000_000)
    return buf.getvalue()


@pytest.mark.parametrize("attack", ["pickle_in_pt", "object_npz", "zip_bomb", "symlink", "fifo", "junk", "error"])
def test_hostile_export_files_are_refused_never_unpickled(tmp_path, attack):
    folder = tmp_path / "exports"
    grading.save_values(folder, "c", {"a": np.zeros(2)})
    if attack == "pickle_in_pt":
        torch.save({"t": Evil()}, folder / "c.pt")
    elif attack == "object_npz":
        np.savez(folder / "c.npz", a0=np.array([Evil()], dtype=object), allow_pickle=True)
    elif attack == "zip_bomb":
        (folder / "c.npz").write_bytes(_zip_bomb())
    elif attack == "symlink":
        (folder / "c.json").unlink()
        (folder / "c.json").symlink_to(tmp_path / "elsewhere.json")
        (tmp_path / "elsewhere.json").write_text('{"values": {}}')
    elif attack == "fifo":
        (folder / "c.npz").unlink()
        os.mkfifo(folder / "c.npz")
    elif attack == "junk":
        (folder / "c.json").write_text('{"values": {"a": {"__ndarray__": "zz"}}}')
    elif attack == "error":
        grading.save_error(folder, "c", "NotImplementedError")
    with pytest.raises(ValueError):
        grading.load_values(folder, "c")
    assert not Path("/tmp/genlabs-unpickled").exists()
    with pytest.raises(FileNotFoundError):
        grading.load_values(folder, "other")


def _in_sandbox(tmp_path: Path, code: str, limits: sandbox.Limits | None = None, timeout: float = 60):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    argv = sandbox.wrap([sys.executable, "-c", code], work=work)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "PYTHONPATH": str(launcher.REPO_ROOT)}
    chosen = limits or sandbox.Limits()
    return launcher.run(argv, cwd=work, env=env, timeout=timeout, preexec_fn=lambda: sandbox.set_limits(chosen))


def test_the_sandbox_hides_the_host_and_cuts_the_network(tmp_path):
    secret = tmp_path / "instructor" / "01_demo.ipynb"
    secret.parent.mkdir()
    secret.write_text("answers")
    repo = launcher.REPO_ROOT
    assert (repo / "notebooks").is_dir() and Path("/etc/shadow").exists()
    code = (f"import os, socket, pathlib\nfor p in ({str(secret)!r}, '/etc/shadow', {str(repo / 'notebooks')!r}):\n"
            "    print(p, os.path.exists(p))\n"
            f"print('repo holds', sorted(os.listdir({str(repo)!r})))\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n"
            "except OSError as e:\n    print('net', e.errno)\n"
            "open('/tmp/x', 'w').write('private'); open('here', 'w').write('mine')\n"
            "import labutils.grading; print('labutils importable')")
    run = _in_sandbox(tmp_path, code)
    lines = run.log_tail.splitlines()
    assert f"{secret} False" in lines and "/etc/shadow False" in lines and f"{repo / 'notebooks'} False" in lines
    venv = [Path(sys.prefix).name] if Path(sys.prefix).parent == repo else []  # .venv in the checkout
    assert f"repo holds {sorted(['labutils', *venv])}" in lines, run.log_tail
    assert "net 101" in lines and "labutils importable" in lines, run.log_tail
    assert (tmp_path / "work" / "here").read_text() == "mine" and not Path("/tmp/x").exists()


def test_the_sandbox_kills_detached_processes_and_limits_memory(tmp_path):
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        time.sleep(1.5)\n        open('daemon', 'w').write('alive')\n    os._exit(0)\n"
            "try:\n    bytearray(6 * 2**30)\nexcept MemoryError:\n    print('memory limited')\n")
    run = _in_sandbox(tmp_path, code, sandbox.Limits(memory_bytes=4 * 2**30))
    assert "memory limited" in run.log_tail and run.returncode == 0, run.log_tail
    import time

    time.sleep(2.5)
    assert not (tmp_path / "work" / "daemon").exists(), "a detached process outlived the sandbox"


def test_without_bubblewrap_the_grader_refuses_naming_the_package(tmp_path, monkeypatch, capsys):
    instructor = synthetic.demo_instructor(tmp_path / "instructor")
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    nbformat.write(synthetic.demo_submission(), str(tmp_path / "subs" / "alice" / "01_demo.ipynb"))
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.bwrap_path.cache_clear()
    try:
        args = ["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--instructor", str(instructor.parent)]
        assert cli.main(args) == 2
        err = capsys.readouterr().err
        assert "bubblewrap" in err and "apt-get install bubblewrap" in err and "--no-sandbox" in err
        assert not (tmp_path / "out" / "gradebook.csv").exists()
        assert cli.main([*args, "--no-sandbox", "--timeout", "120"]) == 0  # the instructor's explicit choice
        rows = runner.grade_batch(tmp_path / "subs", tmp_path / "out", instructor_dir=instructor.parent,
                                  use_sandbox=False, timeout=120)
        assert [r.points for r in rows] == [3, 3]
    finally:
        sandbox.bwrap_path.cache_clear()
    assert parse_exercises(synthetic.demo_notebook())
