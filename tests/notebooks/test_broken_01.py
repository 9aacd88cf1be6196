"""Lab 01's claims fail on broken maps: a "t-SNE" that returns random points, a Sammon iteration stopped early.

One CI-profile run of the lab (about two minutes) with both breaks inserted after the set-up cell.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from broken import assert_claims_fail, run_broken

LAB = Path(__file__).resolve().parents[2] / "notebooks" / "01_sammon_tsne.ipynb"

SABOTAGE = '''
class TSNE:  # a "t-SNE" that returns random points
    def __init__(self, n_components=2, random_state=0, **kwargs):
        self.rng = np.random.default_rng(random_state)

    def fit_transform(self, X):
        return self.rng.standard_normal((len(X), 2))


_sammon = sammon


def sammon(X, **kwargs):  # Sammon's iteration stopped after one step
    return _sammon(X, **{**kwargs, "max_iter": 1})
'''

MUST_FAIL = [  # the first check of each claim cell that the breaks falsify (a cell stops at its first failure)
    "sammon_final_over_pca_stress", "planar_final_over_start_stress", "stress_tsne_minus_sammon",
    "untrust_tsne_over_pca", "knn_tsne_minus_pca", "clusters_short_error_sammon_over_raw", "sweep_min_knn_minus_pca",
    "shared_10nn_over_chance", "centre_rank_corr_seeds",
]


@pytest.mark.slow
@pytest.mark.notebook
def test_claims_fail_on_random_tsne_and_unoptimised_sammon(tmp_path):
    checks = run_broken(LAB, SABOTAGE, tmp_path)
    assert_claims_fail(LAB, checks, MUST_FAIL)
