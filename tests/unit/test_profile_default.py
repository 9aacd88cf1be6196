"""labutils/tools/profile_default.py: PROFILE = "auto" in the parameters cell, run times under the title."""

import shutil
from pathlib import Path

import nbformat

from labutils.tools import notebooks, profile_default

REPO = Path(__file__).resolve().parents[2]


def lab_before_migration(name: str, tmp_path: Path) -> Path:
    """A copy of a lab as it was before the migration: PROFILE = "full", no run-time line under the title."""
    path = tmp_path / f"{name}.ipynb"
    shutil.copy(REPO / "notebooks" / f"{name}.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = 'PROFILE = "full"\nSEED = 0'
    title = nb.cells[0].source.splitlines()
    if len(title) > 2 and title[2].startswith("> **Run time**"):
        nb.cells[0].source = "\n".join(title[:2] + title[4:])
    nbformat.write(nb, path)
    return path


def test_rewrites_a_lab_in_place_keeping_ids_outputs_and_stripping(tmp_path):
    path = lab_before_migration("03_vae", tmp_path)
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
    path = lab_before_migration("06_mode_collapse", tmp_path)
    text = path.read_text()
    assert profile_default.main(["--check", str(path)]) == 1 and path.read_text() == text
    assert "would change" in capsys.readouterr().out
    line = profile_default.run_time_line("06_mode_collapse")
    assert "`ci` ~4 min, `full` ~2 h, estimated" in line and "on a GPU: not measured yet" in line


def test_ci_seconds_reads_the_table_and_is_zero_when_unknown():
    assert profile_default.ci_seconds("06_mode_collapse") == 240.0 and profile_default.ci_seconds("00_setup") == 10.0
    assert profile_default.ci_seconds("99_unknown") == 0.0
    assert all(profile_default.ci_seconds(name) > 0 for name in profile_default.CPU_TIMES)
