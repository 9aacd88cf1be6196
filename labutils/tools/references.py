"""The numeric regression: each lab's checks against a committed reference per profile.

A run of a lab writes its checks (see :mod:`labutils.checks`) to ``build/results/<notebook>.json``.
The reference ``tests/notebooks/refs/<profile>/<notebook>.json`` holds, per check, the value, the
tolerance and where it comes from, and the claim (operator and bound). :func:`verify` fails a run when
a check failed (even if its error was caught), is missing (deleted or renamed), is new (not yet in the
reference), has another operator or bound (a loosened threshold), or moved by more than its tolerance.
:func:`write` makes the reference from a run, on purpose (``make refs``).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labutils.checks import formatted
from labutils.files import atomic_write
from labutils.results import CHECKS_KEY, PROFILE_KEY

REFS = Path(__file__).resolve().parents[2] / "tests" / "notebooks" / "refs"
KEPT = ("value", "op", "bound", "tol", "why")
SEED_SDS = 5  # a tolerance from N seeds: 5 sample SDs (with 5 seeds the sample SD can be ~0.6x the true one)


@dataclass(frozen=True)
class Row:
    """One line of the verify table."""

    name: str
    reference: str
    fresh: str
    tolerance: str
    verdict: str

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


def reference_path(notebook: str, profile: str) -> Path:
    return REFS / profile / f"{notebook}.json"


def _checks_of_run(results: dict[str, Any], notebook: str, profile: str) -> dict[str, dict[str, Any]]:
    ran = results.get(PROFILE_KEY)
    if ran != profile:
        raise ValueError(f"{notebook}: the results in build/ come from a {ran!r} run, not {profile!r}: "
                         f"run `make run PROFILE={profile} NB=notebooks/{notebook}.ipynb` first")
    return results.get(CHECKS_KEY, {})


def widen_to_seeds(checks: dict[str, dict[str, Any]], spread: dict[int, dict[str, dict[str, Any]]],
                   notebook: str) -> dict[str, dict[str, Any]]:
    """Each check's tolerance widened to ``SEED_SDS`` sample SDs over the run and the ``spread`` runs.

    ``spread`` holds other training seeds' checks (``{seed: {name: check}}``). A check missing from a
    seed's run, or failing there, is a claim that does not hold on every seed: that refuses the reference.
    """
    problems = [f"seed {seed}: {name} " + ("missing" if name not in other else
                f"failed ({other[name]['value']!r} {other[name]['op']} {other[name]['bound']!r})")
                for seed, other in sorted(spread.items()) for name in sorted(checks)
                if not other.get(name, {}).get("passed")]
    if problems:
        raise ValueError(f"{notebook}: claims that do not hold on every training seed (restate or resize them):\n  "
                         + "\n  ".join(problems))
    widened = {}
    for name, check in checks.items():
        values = [check["value"], *(other[name]["value"] for other in spread.values())]
        sd = statistics.stdev(values)
        entry = {k: check[k] for k in KEPT} | {"seed_values": values}
        if SEED_SDS * sd > check["tol"]:
            entry["tol"] = SEED_SDS * sd
            entry["why"] = f"{SEED_SDS} SD over {len(values)} training seeds (the run's own: {check['why']})"
        widened[name] = entry
    return widened


def write(notebook: str, profile: str, results: dict[str, Any],
          spread: dict[int, dict[str, dict[str, Any]]] | None = None) -> Path:
    """Make ``results``' checks the reference of ``notebook`` in ``profile``; refuse a run with a failed check.

    With ``spread`` (other training seeds' checks, see :func:`widen_to_seeds`) each tolerance also covers
    the spread over seeds, and the reference keeps every seed's value (``seed_values``).
    """
    checks = _checks_of_run(results, notebook, profile)
    failed = sorted(n for n, c in checks.items() if not c.get("passed"))
    if failed:
        raise ValueError(f"{notebook}: checks {failed} failed in this run: a failed run cannot be a reference")
    kept = (widen_to_seeds(checks, spread, notebook) if spread else
            {n: {k: c[k] for k in KEPT} for n, c in checks.items()})
    path = reference_path(notebook, profile)
    with atomic_write(path, "w") as f:
        json.dump(dict(sorted(kept.items())), f, indent=1, sort_keys=True)
        f.write("\n")
    return path


def _shown(check: dict[str, Any] | None, tol: float) -> str:
    return formatted(check["value"], tol) if check else "-"


def compare(reference: dict[str, dict[str, Any]], fresh: dict[str, dict[str, Any]]) -> list[Row]:
    """One row per check of either side; verdict "ok" or what is wrong."""
    rows = []
    for name in sorted(set(reference) | set(fresh)):
        ref, new = reference.get(name), fresh.get(name)
        tol = (ref or new)["tol"]
        if ref is None:
            verdict = "new check, not in the reference: add it on purpose with `make refs`"
        elif new is None:
            verdict = "missing: the check was deleted, renamed or not reached"
        elif not new.get("passed"):
            verdict = f"failed: {new['value']!r} {new['op']} {new['bound']!r} does not hold"
        elif (new["op"], new["bound"]) != (ref["op"], ref["bound"]):
            verdict = (f"claim changed from '{ref['op']} {ref['bound']!r}' to '{new['op']} {new['bound']!r}': "
                       "update the reference on purpose with `make refs`")
        elif not abs(new["value"] - ref["value"]) <= ref["tol"]:
            verdict = f"moved by {new['value'] - ref['value']:+.3g}, more than its tolerance ({ref['why']})"
        else:
            verdict = "ok"
        rows.append(Row(name, _shown(ref, tol), _shown(new, tol), f"{tol:.2g}", verdict))
    return rows


def verify(notebook: str, profile: str, results: dict[str, Any]) -> list[Row]:
    """Compare a run's checks with the committed reference (FileNotFoundError naming the fix if none)."""
    fresh = _checks_of_run(results, notebook, profile)
    path = reference_path(notebook, profile)
    if not path.is_file():
        raise FileNotFoundError(f"{notebook} has no {profile} reference ({path}): make one with `make refs`"
                                + (" PROFILE=full after a full run" if profile == "full" else ""))
    return compare(json.loads(path.read_text()), fresh)


def table(rows: list[Row]) -> str:
    """The rows as an aligned text table (name, reference, fresh, tolerance, verdict)."""
    head = Row("check", "reference", "fresh", "tolerance", "verdict")
    widths = [max(len(getattr(r, f)) for r in [head, *rows]) for f in ("name", "reference", "fresh", "tolerance")]
    return "\n".join(f"{r.name:<{widths[0]}}  {r.reference:>{widths[1]}}  {r.fresh:>{widths[2]}}  "
                     f"{r.tolerance:>{widths[3]}}  {r.verdict}" for r in [head, *rows])
