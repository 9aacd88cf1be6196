"""The numeric regression of `make test` catches what string comparison of verdicts let through.

A tiny lab is executed through the same pipeline as the real ones (papermill, checked outputs, numeric
reference); then edited as a careless or hostile change would edit it, and run again.
"""

from __future__ import annotations

import nbformat
import pytest

from labutils.tools import notebooks, references

SETUP = 'import labutils\nfrom labutils import check\ncfg = labutils.start("97_tiny", PROFILE, SEED)'
CLAIM = ('# NBVAL_CHECK_OUTPUT\nvalue = 0.30\n'
         'check("gap", value, ">", 0.1, tol=0.01, why="rounding of the tiny lab")')


def tiny_lab(claim: str = CLAIM, with_claim: bool = True) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"},
                                            "language_info": {"name": "python"}})
    params = nbformat.v4.new_code_cell('PROFILE = "full"\nSEED = 0', metadata={"tags": ["parameters"]})
    nb.cells = [params, nbformat.v4.new_code_cell(SETUP)] + ([nbformat.v4.new_code_cell(claim)] if with_claim else [])
    return nb


@pytest.fixture
def committed(build, tmp_path, monkeypatch):
    """The tiny lab with its checked outputs and numeric reference made by `make refs`."""
    monkeypatch.setattr(references, "REFS", tmp_path / "refs")
    path = tmp_path / "97_tiny.ipynb"
    nbformat.write(tiny_lab(), path)
    notebooks.refresh(path, tmp_path / "ran")
    from labutils.results import load

    references.write("97_tiny", "ci", load("97_tiny"))
    return path


def problems_after_edit(path, tmp_path, edited: nbformat.NotebookNode) -> list[str]:
    """Run the edited lab (as a contributor would) and hold it against the committed references."""
    src = tmp_path / "edited" / path.name
    src.parent.mkdir()
    nbformat.write(edited, src)
    executed = notebooks.execute(src, tmp_path / "ran-edited" / path.name, profile="ci")
    return notebooks.regression_problems(path, executed, "ci")


@pytest.mark.notebook
@pytest.mark.parametrize(("claim", "with_claim", "expected"), [
    (CLAIM, True, None),  # the unchanged lab passes
    (CLAIM.replace("0.30", "0.305"), True, None),  # a move within the tolerance passes
    (CLAIM.replace("0.30", "0.35"), True, "moved by +0.05"),  # a headline value moved beyond its tolerance
    (CLAIM.replace('">", 0.1', '">", 0.0'), True, "claim changed"),  # a loosened threshold
    (CLAIM.replace("0.30", "0.05").replace("check(", "try:\n    check(") + "\nexcept AssertionError:\n    pass",
     True, "failed"),  # the checked assert wrapped in try/except
    (CLAIM, False, "missing"),  # the checked cell deleted
])
def test_the_regression_fails_on_what_it_must(committed, tmp_path, claim, with_claim, expected):
    problems = problems_after_edit(committed, tmp_path, tiny_lab(claim, with_claim))
    if expected is None:
        assert not problems, problems
    else:
        assert any(expected in p for p in problems), problems
