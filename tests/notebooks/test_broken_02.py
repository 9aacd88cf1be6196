"""Lab 02's claims fail on untrained autoencoders (every fit runs one epoch at learning rate 0).

One CI-profile run of the lab with its own cache (the yardstick's classifier still trains normally).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from broken import run_broken

LAB = Path(__file__).resolve().parents[2] / "notebooks" / "02_autoencoder.ipynb"

SABOTAGE = '''
_fit = train.fit


def _untrained_fit(*args, **kwargs):  # the lab's networks keep their initial weights
    if str(kwargs.get("cache", "")).startswith("yardstick"):
        return _fit(*args, **kwargs)
    return _fit(*args, **{**kwargs, "lr": 0.0, "epochs": 1})


train.fit = _untrained_fit
'''

MUST_FAIL = [  # the first check of each claim cell that the break falsifies (a cell stops at its first failure)
    "ae_over_mean_image_error",
    "knn_accuracy_2d_codes",
    "frechet_random_over_reconstructions[N0]",
    "dae_gain_over_plain[sigma0.25]",
]


@pytest.mark.slow
@pytest.mark.notebook
def test_claims_fail_on_untrained_autoencoders(tmp_path):
    checks = run_broken(LAB, SABOTAGE, tmp_path)
    still_passing = [name for name in MUST_FAIL if checks.get(name, {}).get("passed", True)]  # or never ran
    assert not still_passing, f"checks that pass on the broken lab (or never ran): {still_passing}"
