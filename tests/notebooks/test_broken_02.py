"""Lab 02's claims fail on untrained autoencoders (every fit runs one epoch at learning rate 0).

One CI-profile run of the lab with its own cache (the yardstick's classifier still trains normally).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from broken import UNTRAINED_FIT, assert_claims_fail, run_broken

LAB = Path(__file__).resolve().parents[2] / "notebooks" / "02_autoencoder.ipynb"


MUST_FAIL = [  # the first check of each claim cell that the break falsifies (a cell stops at its first failure)
    "ae_over_mean_image_error",
    "knn_accuracy_2d_codes",
    "frechet_random_over_reconstructions[N0]",
    "dae_gain_over_plain[sigma0.25]",
]


@pytest.mark.slow
@pytest.mark.notebook
def test_claims_fail_on_untrained_autoencoders(tmp_path):
    checks = run_broken(LAB, UNTRAINED_FIT, tmp_path)
    assert_claims_fail(LAB, checks, MUST_FAIL)
