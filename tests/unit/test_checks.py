"""labutils.checks.check and labutils.tools.references: claims recorded, then held against a reference."""

from __future__ import annotations

import copy
import json
import statistics

import pytest

import labutils
from labutils import checks, results
from labutils.tools import references


def _run(build, body) -> dict:
    labutils.start("98_checks", "ci", 0)
    body()
    return results.load("98_checks")


def test_a_check_prints_at_the_precision_of_its_tolerance_and_records_everything(build, capsys):
    run = _run(build, lambda: checks.check("gap", 0.123456, ">", 0.05, tol=0.003, why="3 SE"))
    assert run["checks"]["gap"] == {"value": 0.123456, "op": ">", "bound": 0.05, "tol": 0.003, "why": "3 SE",
                                    "passed": True}
    assert "check gap: 0.1235 > 0.0500 (±0.003: 3 SE) passed" in capsys.readouterr().out


def test_a_failed_check_is_recorded_before_it_raises(build):
    def caught():
        try:
            checks.check("gap", 0.01, ">", 0.05, tol=0.003, why="3 SE")
        except AssertionError:
            pass  # a student or a careless edit hides the failure

    run = _run(build, caught)
    assert run["checks"]["gap"]["passed"] is False
    with pytest.raises(AssertionError, match="nan"):
        checks.check("nan", float("nan"), "<", 1.0, tol=0.1, why="x")


@pytest.mark.parametrize(("kw", "match"), [
    (dict(op="=="), "op"), (dict(tol=0.0), "tol"), (dict(why=" "), "why"), (dict(name="a b"), "name"),
])
def test_bad_claims_are_refused(build, kw, match):
    labutils.start("98_checks", "ci", 0)
    args = dict(name="x", value=1.0, op=">", bound=0.0, tol=0.1, why="rounding") | kw
    with pytest.raises(ValueError, match=match):
        checks.check(args.pop("name"), args.pop("value"), args.pop("op"), args.pop("bound"), **args)


REF = {"gap": {"value": 0.12, "op": ">", "bound": 0.05, "tol": 0.01, "why": "3 SE"},
       "kept": {"value": 1.0, "op": "<", "bound": 2.0, "tol": 0.1, "why": "seeds"}}


def fresh(**changes) -> dict:
    out = {n: dict(c, passed=True) for n, c in REF.items()}
    for name, change in changes.items():
        if change is None:
            out.pop(name)
        else:
            out[name] = dict(out.get(name, {"value": 0.0, "op": "<", "bound": 1.0, "tol": 0.1, "why": "x"}),
                             **change)
    return out


@pytest.mark.parametrize(("changes", "verdict"), [
    ({}, None),
    ({"gap": {"value": 0.125}}, None),  # within its tolerance
    ({"gap": {"value": 0.14}}, "moved by +0.02"),
    ({"gap": {"passed": False}}, "failed"),
    ({"gap": {"bound": 0.0}}, "claim changed"),  # a loosened threshold
    ({"gap": {"op": ">="}}, "claim changed"),
    ({"gap": None}, "missing"),  # a deleted or renamed check
    ({"extra": {}}, "new check"),
])
def test_verify_names_what_is_wrong(changes, verdict):
    rows = {r.name: r for r in references.compare(REF, fresh(**changes))}
    bad = [r for r in rows.values() if not r.ok]
    if verdict is None:
        assert not bad
    else:
        assert len(bad) == 1 and verdict in bad[0].verdict, bad
        assert verdict.split()[0] in references.table(bad)


def test_a_reference_is_written_only_from_a_passing_run_of_its_profile(build, tmp_path, monkeypatch):
    monkeypatch.setattr(references, "REFS", tmp_path / "refs")
    run = _run(build, lambda: checks.check("gap", 0.2, ">", 0.05, tol=0.01, why="3 SE"))
    path = references.write("98_checks", "ci", run)
    assert path == tmp_path / "refs" / "ci" / "98_checks.json"
    assert all(r.ok for r in references.verify("98_checks", "ci", run))
    with pytest.raises(ValueError, match="not 'full'"):
        references.verify("98_checks", "full", run)
    run["checks"]["gap"]["passed"] = False
    with pytest.raises(ValueError, match="failed"):
        references.write("98_checks", "ci", run)
    with pytest.raises(FileNotFoundError, match="make refs"):
        references.verify("97_none", "ci", run | {"profile": "ci"})


def _seed(value: float, passed: bool = True) -> dict:
    return {"gap": {"value": value, "op": ">", "bound": 0.05, "tol": 0.01, "why": "3 SE", "passed": passed}}


def test_a_reference_over_seeds_widens_each_tolerance_to_the_seed_spread(build, tmp_path, monkeypatch):
    monkeypatch.setattr(references, "REFS", tmp_path / "refs")
    run = _run(build, lambda: checks.check("gap", 0.2, ">", 0.05, tol=0.01, why="3 SE"))
    spread = {1: _seed(0.25), 2: _seed(0.15), 3: _seed(0.2), 4: _seed(0.22)}
    stored = json.loads(references.write("98_checks", "ci", run, spread).read_text())["gap"]
    sd = statistics.stdev([0.2, 0.25, 0.15, 0.2, 0.22])
    assert stored["tol"] == pytest.approx(references.SEED_SDS * sd) and "5 training seeds" in stored["why"]
    assert stored["seed_values"] == [0.2, 0.25, 0.15, 0.2, 0.22]
    moved = copy.deepcopy(run)
    moved["checks"]["gap"]["value"] = 0.2 + 0.9 * stored["tol"]  # inside the seed spread: the fresh run is fine
    assert all(r.ok for r in references.verify("98_checks", "ci", moved))
    quiet = {seed: _seed(0.2 + 1e-4 * seed) for seed in (1, 2, 3, 4)}  # seeds agree: the run's own SE stays
    assert json.loads(references.write("98_checks", "ci", run, quiet).read_text())["gap"]["tol"] == 0.01


def test_a_claim_that_fails_on_another_seed_refuses_the_reference(build, tmp_path, monkeypatch):
    monkeypatch.setattr(references, "REFS", tmp_path / "refs")
    run = _run(build, lambda: checks.check("gap", 0.2, ">", 0.05, tol=0.01, why="3 SE"))
    with pytest.raises(ValueError, match=r"seed 2: gap failed \(0\.01 > 0\.05\)"):
        references.write("98_checks", "ci", run, {1: _seed(0.2), 2: _seed(0.01, passed=False)})
    with pytest.raises(ValueError, match="seed 1: gap missing"):
        references.write("98_checks", "ci", run, {1: {}})
    assert not references.reference_path("98_checks", "ci").exists()
