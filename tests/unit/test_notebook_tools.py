import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from labutils.tools import notebooks


def _nb(checked_text: str, other_text: str = "loss 0.123\n"):
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}, "papermill": {"x": 1}})
    checked = new_code_cell("# NBVAL_CHECK_OUTPUT\nprint('ok')", execution_count=3,
                            outputs=[new_output("stream", name="stdout", text=checked_text)])
    other = new_code_cell("print(loss)", execution_count=4,
                          outputs=[new_output("stream", name="stdout", text=other_text)])
    other.metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    return nb | {"cells": [checked, other]}


def test_strip_keeps_only_checked_outputs_and_drops_run_metadata():
    stripped = notebooks.strip(nbformat.from_dict(_nb("verdict: True\n")))
    checked, other = stripped.cells
    assert checked.outputs[0].text == "verdict: True\n" and checked.execution_count == 3
    assert other.outputs == [] and other.execution_count is None and "execution" not in other.metadata
    assert "papermill" not in stripped.metadata


def test_compare_sees_changed_verdicts_but_not_sanitized_noise():
    ref = nbformat.from_dict(_nb("verdict: True (took 1.5 s) at 0x7f00aa\n"))
    same = nbformat.from_dict(_nb("verdict: True (took 12 s) at 0x55bb01\n", other_text="loss 9\n"))
    changed = nbformat.from_dict(_nb("verdict: False (took 1.5 s) at 0x7f00aa\n"))
    assert notebooks.compare(same, ref) == []
    problems = notebooks.compare(changed, ref)
    assert len(problems) == 1 and "verdict: False" in problems[0]


def test_compare_masks_numbers_but_sees_changed_lines():
    """Last-digit float noise (another CPU's kernels) passes; a dropped or reworded line does not."""
    check = "check a_b: {} < 2 (±0.1: 3 SE) {}\n"
    ref = nbformat.from_dict(_nb("variance ratio: 2805\n{'kl': 0.25586075974539124}\n" + check.format(1.2, "passed")))
    noisy = nbformat.from_dict(_nb("variance ratio: 2808\n{'kl': 0.2558607673086243}\n" + check.format(1.3, "passed")))
    failed = nbformat.from_dict(_nb("variance ratio: 2805\n{'kl': 0.2558607597}\n" + check.format(2.2, "FAILED")))
    dropped = nbformat.from_dict(_nb("variance ratio: 2805\n" + check.format(1.2, "passed")))
    assert notebooks.compare(noisy, ref) == []
    assert len(notebooks.compare(failed, ref)) == 1 and len(notebooks.compare(dropped, ref)) == 1


def test_compare_joins_streams_like_nbval():
    ref = nbformat.from_dict(_nb("a\nb\n"))
    split = nbformat.from_dict(_nb("a\n"))
    split.cells[0].outputs.append(new_output("stream", name="stdout", text="b\n"))
    assert notebooks.compare(split, ref) == []


def test_execute_sets_the_kernels_environment(tmp_path, monkeypatch):
    """The kernel gets the profile, this venv's python and sleeping OpenMP threads (unless the caller chose)."""
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    params = new_code_cell('PROFILE = "full"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell(
        'import os, sys\nprint(PROFILE, os.environ["GENLABS_PROFILE"], os.environ["OMP_WAIT_POLICY"], sys.executable)')]
    src = tmp_path / "env.ipynb"
    nbformat.write(nb, src)
    out = notebooks.execute(src, tmp_path / "out" / "env.ipynb", profile="ci", timeout=120)
    profile, env_profile, policy, python = out.cells[-1].outputs[0]["text"].split()
    assert (profile, env_profile, policy) == ("ci", "ci", "PASSIVE")
    assert Path(python).parent == Path(sys.executable).parent
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    out = notebooks.execute(src, tmp_path / "out" / "env.ipynb", profile="ci", timeout=120)
    assert out.cells[-1].outputs[0]["text"].split()[2] == "ACTIVE"
