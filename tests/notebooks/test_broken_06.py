"""Lab 06's claim checks fail when its GANs are stopped after a few dozen steps (issue 20 item 2).

Stopped that early no generator has reached the ring: the collapse claims need a high-quality floor
(issue 16), so a run that never learnt cannot pass as "collapsed", and the remedy comparison cannot pass
on two equally untrained generators.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from broken import run_broken

from labutils.tools import references

LAB = Path(__file__).resolve().parents[2] / "notebooks" / "06_mode_collapse.ipynb"

STOP_EARLY = "cfg.update(steps=60, snapshot_every=20, track_every=20, remedy_steps=40, grid_steps=40)"

MUST_FAIL = [
    "gan_evaluations_on_ring",
    "gan_last_on_ring_modes_strict",
    "gan_last_on_ring_kl_uniform",
    "gan_on_ring_high_quality_rise",
    "gan_on_ring_max_modes_strict",
    "ring_best_minus_gan_high_quality_min",
    "ring_best_minus_smoothing_high_quality_min_z",
]


@pytest.mark.slow
@pytest.mark.notebook
def test_untrained_gans_fail_the_claims(tmp_path):
    checks = run_broken(LAB, STOP_EARLY, tmp_path)
    reference = json.loads(references.reference_path(LAB.stem, "ci").read_text())
    unknown = [name for name in MUST_FAIL if name not in reference]
    assert not unknown, f"not checks of the lab's CI reference (renamed?): {unknown}"
    # A claim fails when its check records passed=False, or when its cell raised before the check ran.
    assert any(name in checks and not checks[name]["passed"] for name in MUST_FAIL), "no claim recorded as failed"
    passed = [name for name in MUST_FAIL if checks.get(name, {}).get("passed", False)]
    assert not passed, f"these claims still pass on untrained GANs: {passed}"
    # The metric's own checks (the target, one mode) do not depend on training.
    assert checks["target_modes_strict"]["passed"] and checks["one_mode_kl_minus_log8"]["passed"]
