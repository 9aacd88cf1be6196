"""Run a lab with a deliberate break and read which of its checks failed (for the broken-variant tests).

``run_broken(path, sabotage)`` copies the lab, inserts the code ``sabotage`` as a cell right after the
set-up cell (the one calling ``labutils.start``), lets every later cell run on past errors (as graders
do), executes it in the CI profile with papermill into a private build folder, and returns the checks
the run recorded: ``{name: {"value", "op", "bound", "passed", ...}}``. A check that raised is recorded
with ``passed: False`` before it raises (labutils.checks), so the caller can assert exactly which
claims a broken model fails; :func:`assert_claims_fail` is that assertion, shared by every lab's test.

The run has its own cache: a sabotage that patches labutils (say, flips a loss's sign) does not change
the notebook's cache keys, so reusing the shared cache would load the good model. Pass
``reuse_cache=True`` only when the sabotage acts after training (e.g. replaces a trained generator).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
from papermill.exceptions import PapermillExecutionError

from labutils.results import build_dir
from labutils.tools import notebooks, references

# every train.fit of the lab runs one epoch at learning rate 0 (its networks keep their initial weights), except
# the yardstick's classifier, which the scores need
UNTRAINED_FIT = '''
_fit = train.fit


def _untrained_fit(*args, **kwargs):
    if str(kwargs.get("cache", "")).startswith("yardstick"):
        return _fit(*args, **kwargs)
    return _fit(*args, **{**kwargs, "lr": 0.0, "epochs": 1})


train.fit = _untrained_fit
'''


def run_broken(path: Path, sabotage: str, out: Path, *, reuse_cache: bool = False) -> dict[str, dict]:
    """Execute ``path`` with ``sabotage`` inserted after its set-up cell; return the recorded checks."""
    nb = nbformat.read(path, as_version=4)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "labutils.start(" in c.source)
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell("# deliberate break for a test\n" + sabotage))
    nb = notebooks.allow_errors(nb, start=setup + 1)
    src = out / "src" / path.name
    src.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, src)
    shared_cache = build_dir() / "cache"
    private = out / "build"
    private.mkdir(parents=True, exist_ok=True)
    if reuse_cache and shared_cache.is_dir() and not (private / "cache").exists():
        (private / "cache").symlink_to(shared_cache, target_is_directory=True)
    old = os.environ.get("GENLABS_BUILD")
    os.environ["GENLABS_BUILD"] = str(private)
    try:
        notebooks.execute(src, out / "ran" / path.name, profile="ci")
    except PapermillExecutionError:
        pass  # papermill reports the failed cells after running them all; their checks are recorded
    finally:
        if old is None:
            os.environ.pop("GENLABS_BUILD", None)
        else:
            os.environ["GENLABS_BUILD"] = old
    results = private / "results" / f"{path.stem}.json"
    return json.loads(results.read_text()).get("checks", {}) if results.is_file() else {}


def assert_claims_fail(lab: Path, checks: dict[str, dict], must_fail: list[str], *,
                       may_be_unrecorded: bool = False) -> None:
    """Each claim in ``must_fail`` is a check of ``lab``'s CI reference (not renamed) and failed on the broken run.

    Failed means recorded with ``passed: False``. A cell stops at its first failure, so a later check of the
    same cell is never recorded: with ``may_be_unrecorded`` such a claim counts as failed too (at least one
    must still be recorded as failed); without it, every claim must be recorded.
    """
    reference = json.loads(references.reference_path(lab.stem, "ci").read_text())
    unknown = [name for name in must_fail if name not in reference]
    assert not unknown, f"not checks of {lab.stem}'s CI reference (renamed?): {unknown}"
    if may_be_unrecorded:
        assert any(name in checks and not checks[name]["passed"] for name in must_fail), "no claim recorded as failed"
    passing = [name for name in must_fail if checks.get(name, {}).get("passed", not may_be_unrecorded)]
    assert not passing, f"checks that pass on the broken {lab.stem} (or never ran): {passing}"
