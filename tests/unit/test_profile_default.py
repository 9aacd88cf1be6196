"""labutils/tools/profile_default.py: PROFILE = "auto" in the parameters cell, run times under the title."""

import shutil
from pathlib import Path

import nbformat

from labutils.tools import notebooks, profile_default

REPO = Path(__file__).resolve().parents[2]


def test_rewrites_a_lab_in_place_keeping_ids_outputs_and_stripping(tmp_path):
    path = tmp_path / "03_vae.ipynb"
    shutil.copy(REPO / "notebooks" / "03_vae.ipynb", path)
    before = nbformat.read(path, as_version=4)
    assert profile_default.main([str(path)]) == 0
    after = nbformat.read(path, as_version=4)
    nbformat.validate(after)
    assert [c.get("id") for c in after.cells] == [c.get("id") for c in before.cells]
    assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells]
    params = [c for c in after.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and params[0].source.startswith('PROFILE = "auto"  #') and "SEED = 0" in params[0].source
    title = after.cells[0].source.splitlines()
    assert title[0] == before.cells[0].source.splitlines()[0]  # the title stays first
    assert title[2].startswith("> **Run time** on a 2-core CPU: `ci` ~35 s, `full` not timed yet; "
                               "on a GPU: not measured")
    assert notebooks.strip(after).cells == after.cells  # still stored stripped
    changed = [i for i, (a, b) in enumerate(zip(before.cells, after.cells)) if a.source != b.source]
    assert len(changed) == 2  # the title cell and the parameters cell, nothing else
    # a second run changes nothing
    assert profile_default.main(["--check", str(path)]) == 0
    assert nbformat.read(path, as_version=4) == after


def test_check_mode_reports_a_notebook_that_still_says_full(tmp_path, capsys):
    path = tmp_path / "06_mode_collapse.ipynb"
    shutil.copy(REPO / "notebooks" / "06_mode_collapse.ipynb", path)
    text = path.read_text()
    assert profile_default.main(["--check", str(path)]) == 1 and path.read_text() == text
    assert "would change" in capsys.readouterr().out
    line = profile_default.run_time_line("06_mode_collapse")
    assert "`ci` ~1.5 min, `full` ~53 min" in line and "on a GPU: not measured yet" in line
