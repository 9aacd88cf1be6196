"""``check``: a lab's claim about a number, asserted, printed and recorded for the numeric regression.

A checked cell states its claim as ``value op bound`` and says how far the value may move between runs
(``tol``) and why (``why``: a standard error, a spread over seeds, float rounding)::

    check("tsne_knn_minus_pca", knn_tsne - knn_pca, ">", 0.2, tol=3 * se, why="3 binomial SE of the difference")

It prints ``check NAME: VALUE > BOUND (±TOL: WHY) passed`` at the precision of ``tol`` and records
value, operator, bound, tolerance and verdict in ``build/results/<notebook>.json`` under ``"checks"``.
A failed claim raises ``AssertionError`` *after* it is recorded, so catching the error cannot hide
it: the numeric regression (``python -m labutils.notebooks verify``) compares the recorded checks
with the committed reference (tests/notebooks/refs/<profile>/<notebook>.json) and fails on a failed,
missing, renamed, re-bounded or moved check.
"""

from __future__ import annotations

import math
import operator
import re

from labutils import results

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
NAME_RE = re.compile(r"[A-Za-z0-9_.\[\]-]+")


def decimals(tol: float) -> int:
    """Decimal places that show a number to the precision of ``tol`` (one more digit than tol's first)."""
    return max(0, 1 - math.floor(math.log10(tol)))


def formatted(x: float, tol: float) -> str:
    """``x`` at the precision of ``tol``: fixed point for ordinary magnitudes, 4 significant digits otherwise."""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{decimals(tol)}f}" if abs(x) < 1e6 and decimals(tol) <= 12 else f"{x:.4g}"


def check(name: str, value: float, op: str, bound: float, *, tol: float, why: str) -> None:
    """Assert ``value op bound``, print it, record it for the regression (returns None: nothing to display).

    name: unique within the notebook (letters, digits, ``_.-[]``); op: one of ``< <= > >=``;
    tol > 0: how far ``value`` may move between runs of this profile, in its units; why: where ``tol``
    comes from. Raises AssertionError (recorded first) when the claim does not hold or value is NaN.
    """
    if not NAME_RE.fullmatch(name):
        raise ValueError(f"check name {name!r}: use letters, digits and _.-[] only")
    if op not in OPS:
        raise ValueError(f"check {name}: op {op!r} must be one of {', '.join(OPS)}")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"check {name}: tol must be a positive number (a derived tolerance), got {tol!r}")
    if not why or not why.strip():
        raise ValueError(f"check {name}: say where the tolerance comes from (why=...)")
    value, bound = float(value), float(bound)
    passed = math.isfinite(value) and bool(OPS[op](value, bound))
    results.record_check(name, {"value": value, "op": op, "bound": bound, "tol": float(tol), "why": why,
                                "passed": passed})
    print(f"check {name}: {formatted(value, tol)} {op} {formatted(bound, tol)} (±{tol:.1g}: {why}) "
          f"{'passed' if passed else 'FAILED'}")
    if not passed:
        raise AssertionError(f"{name}: {value!r} {op} {bound!r} does not hold")
