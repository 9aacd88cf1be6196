"""Every lab notebook: well-formed, stored stripped, and executed in its CI profile with checked outputs.

Each notebook is executed once (papermill, PROFILE="ci") into build/ci/; the outputs of the cells
marked ``# NBVAL_CHECK_OUTPUT`` are then compared with the committed ones the way nbval --nbval-lax
compares them (same sanitize file). ``make nbval`` runs the nbval plugin itself.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from labutils.results import build_dir
from labutils.tools import notebooks, references

NOTEBOOKS = notebooks.lab_notebooks()
IDS = [p.stem for p in NOTEBOOKS]
NOTEBOOK_TIME_LIMIT_S = 1200  # a hang guard: 06, the longest CI run, took 463-533 s in make test on the slower VM
MAX_CELL_LINES = 30  # "short code": one idea per cell (docs/CONVENTIONS.md)


def test_there_are_notebooks():
    assert any(p.name.startswith("00_") for p in NOTEBOOKS), "notebooks/00_setup.ipynb is missing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_well_formed_and_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", "kernelspec must name python3"
    assert nb.metadata.get("language_info", {}).get("name") == "python", "language_info must name python"
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell must be tagged 'parameters'"
    # "auto" (full on a GPU, ci on a CPU) is the default; "full" is accepted until every lab has switched
    # (python -m labutils.tools.profile_default rewrites the cell)
    assert re.search(r'^PROFILE = "auto"', params[0].source, re.M) and "SEED = " in params[0].source
    assert any(notebooks.is_checked(c) for c in nb.cells), "no cell is marked # NBVAL_CHECK_OUTPUT"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and notebooks.is_checked(cell):
            assert cell.execution_count is not None, f"cell {i}: checked cell lacks execution_count (make refs)"
            assert not any(o.output_type == "error" for o in cell.outputs), f"cell {i} stores an error"
    long = [(i, n) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            and (n := len(c.source.rstrip("\n").split("\n"))) > MAX_CELL_LINES]
    assert not long, f"code cells (index, lines) longer than {MAX_CELL_LINES} lines: {long}; split them by idea"
    stripped = notebooks.strip(nb)
    unexpected = [i for i, (a, b) in enumerate(zip(nb.cells, stripped.cells)) if a != b]
    assert not unexpected and nb.metadata == stripped.metadata, (
        f"cells {unexpected} keep outputs or run metadata that should be stripped: run `make strip NB={path}`")


@pytest.mark.notebook
@pytest.mark.timeout(NOTEBOOK_TIME_LIMIT_S)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_in_ci_profile(path):
    out = build_dir() / "ci" / path.name
    executed = notebooks.execute(path, out, profile="ci", timeout=NOTEBOOK_TIME_LIMIT_S)
    problems = notebooks.regression_problems(path, executed, "ci")
    assert not problems, "the fresh run differs from the committed references:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
@pytest.mark.parametrize("profile", ["ci", "full"])
def test_every_lab_has_a_numeric_reference_per_profile(path, profile):
    ref = references.reference_path(path.stem, profile)
    assert ref.is_file(), f"{ref} is missing: make it with `make refs` (PROFILE=full after a full run)"
    assert isinstance(json.loads(ref.read_text()), dict)
