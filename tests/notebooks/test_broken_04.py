"""Lab 04's GAN claims fail when the generator's costs have their sign flipped (it runs from the data).

One CI-profile run of the lab with its own cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from broken import assert_claims_fail, run_broken

LAB = Path(__file__).resolve().parents[2] / "notebooks" / "04_gan_derivation.ipynb"

SABOTAGE = '''
_nonsaturating, _minimax = losses.gan_g_loss, losses.g_loss_minimax
losses.gan_g_loss = lambda D, fake: -_nonsaturating(D, fake)  # the generator climbs its cost
losses.g_loss_minimax = lambda fake_logits: -_minimax(fake_logits)
'''

MUST_FAIL = [  # the first check of each claim cell that the break falsifies (a cell stops at its first failure)
    "gan_best_jsd",
    "rescued_final_jsd[label]",
]


@pytest.mark.slow
@pytest.mark.notebook
def test_gan_claims_fail_when_the_generator_climbs_its_cost(tmp_path):
    checks = run_broken(LAB, SABOTAGE, tmp_path)
    assert_claims_fail(LAB, checks, MUST_FAIL)
