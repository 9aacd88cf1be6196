"""mode_stats on constructed samples: one mode, an even spread, off-target noise, the thresholds, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from labutils import modes as mode_metrics
from labutils import toy

RING = toy.ring()
STD = float(RING.stds[0])
K = RING.n_modes
N = mode_metrics.N_EVAL
IN_RADIUS_2D = 1 - math.exp(-mode_metrics.QUALITY_RADIUS**2 / 2)  # P(|x - mu| <= 3 std) for a 2-D Gaussian


def around(center_index: int, n: int, radius_in_std: float = 0.5) -> torch.Tensor:
    """n points on a circle of radius_in_std * STD around one centre: (n, 2)."""
    angle = torch.linspace(0, 2 * math.pi, n + 1, dtype=torch.float64)[:-1]
    offset = radius_in_std * STD * torch.stack([angle.cos(), angle.sin()], 1)
    return RING.centers[center_index] + offset


def test_all_samples_on_one_mode_is_total_collapse():
    s = mode_metrics.mode_stats(around(3, N), RING.centers, STD)
    assert (s["modes"], s["modes_strict"], s["high_quality"]) == (1, 1, 100.0)
    assert s["counts"][3] == N and sum(s["counts"]) == N
    assert s["missed"] == [m for m in range(K) if m != 3]
    assert s["kl_uniform"] == pytest.approx(math.log(K), abs=1e-12)
    assert (s["n_samples"], s["n_centers"]) == (N, K)
    assert s["min_share"] == pytest.approx(IN_RADIUS_2D / (4 * K), rel=1e-12)


def test_target_samples_cover_every_mode_evenly():
    x, modes = RING.sample(N, torch.Generator().manual_seed(0), with_modes=True)
    s = mode_metrics.mode_stats(x, RING.centers, STD)
    assert (s["modes"], s["modes_strict"], s["missed"]) == (K, K, [])
    # The share within 3 std is a binomial proportion: compare within 4 standard errors.
    se = 100 * math.sqrt(IN_RADIUS_2D * (1 - IN_RADIUS_2D) / N)
    assert abs(s["high_quality"] - 100 * IN_RADIUS_2D) < 4 * se
    # Every high-quality sample sits nearest the mode it was drawn from (modes are 100 std apart).
    near = (x.double() - RING.centers[modes]).norm(dim=1) <= mode_metrics.QUALITY_RADIUS * STD
    assert s["counts"] == torch.bincount(modes[near], minlength=K).tolist()
    # 2 n KL(p || u) is asymptotically chi-square with K - 1 degrees of freedom under uniform counts.
    assert 2 * sum(s["counts"]) * s["kl_uniform"] < stats.chi2.ppf(1 - 1e-4, K - 1)


def test_kl_of_an_even_spread_over_m_modes_is_log_k_over_m():
    for m in (1, 2, 4, 8):
        x = torch.cat([around(i, 40) for i in range(m)])
        s = mode_metrics.mode_stats(x, RING.centers, STD)
        assert s["modes"] == m
        assert s["kl_uniform"] == pytest.approx(math.log(K / m), abs=1e-12)


def test_off_target_samples_lower_quality_but_not_modes():
    on = RING.sample(N // 2, torch.Generator().manual_seed(1))
    angle = 2 * math.pi * torch.rand(N - N // 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    off = torch.stack([angle.cos(), angle.sin()], 1)  # on the circle of radius 1, inside the ring of radius 2
    s_on = mode_metrics.mode_stats(on, RING.centers, STD)
    s_mixed = mode_metrics.mode_stats(torch.cat([on, off]), RING.centers, STD)
    # The off-ring points are all far (> 10 std) from every centre, so they change only the quality.
    assert (torch.cdist(off, RING.centers).min() > 10 * STD).item()
    assert s_mixed["counts"] == s_on["counts"] and s_mixed["modes"] == K
    assert s_mixed["high_quality"] == pytest.approx(s_on["high_quality"] * (N // 2) / N)


def test_quality_radius_is_three_std():
    inside, outside = around(0, 10, 2.99), around(1, 10, 3.01)
    s = mode_metrics.mode_stats(torch.cat([inside, outside]), RING.centers, STD)
    assert s["counts"][0] == 10 and s["counts"][1] == 0 and s["high_quality"] == 50.0
    assert s["missed"] == list(range(1, K))


def test_strict_count_needs_the_minimum_share_of_all_samples():
    big = torch.cat([around(i, 300) for i in range(K - 1)])  # 7 modes with 300 samples each: 2,100
    few = around(K - 1, 3)  # 3 stray samples on the last mode
    s = mode_metrics.mode_stats(torch.cat([big, few]), RING.centers, STD)
    assert (s["modes"], s["modes_strict"]) == (K, K - 1)
    # The default threshold is a quarter of what the target itself puts on a mode: N p_in / (4K) samples.
    n = 300 * (K - 1) + 3
    assert s["min_share"] * n == pytest.approx(n * IN_RADIUS_2D / (4 * K))
    # The threshold is inclusive: a count exactly equal to min_share * N counts.
    assert mode_metrics.mode_stats(torch.cat([big, few]), RING.centers, STD, min_share=3 / n)["modes_strict"] == K
    assert mode_metrics.mode_stats(torch.cat([big, few]), RING.centers, STD, min_share=0.0)["modes_strict"] == K


def test_one_high_quality_sample_captures_a_mode():
    # VEEGAN's rule: a single high-quality sample is enough (kills the mutant "at least 2 samples").
    s = mode_metrics.mode_stats(torch.cat([around(0, 50), around(5, 1)]), RING.centers, STD)
    assert s["modes"] == 2 and s["counts"][5] == 1 and s["missed"] == [1, 2, 3, 4, 6, 7]


def test_strict_count_ignores_stray_samples_when_almost_nothing_is_high_quality():
    # 3 high-quality samples on each of 2 modes among 2,500 samples far from the ring (issue 16): such a
    # generator has not reached the ring, and it covers no mode strictly, although each of the two modes
    # holds half of the (six) high-quality samples.
    off = torch.zeros(N - 6, 2, dtype=torch.float64)
    s = mode_metrics.mode_stats(torch.cat([off, around(0, 3), around(4, 3)]), RING.centers, STD)
    assert s["modes"] == 2 and s["modes_strict"] == 0 and s["high_quality"] == pytest.approx(100 * 6 / N)


def test_strict_count_of_the_target_and_of_a_half_covered_ring():
    x, modes = RING.sample(N, torch.Generator().manual_seed(4), with_modes=True)
    half = x[modes < K // 2]  # the target restricted to 4 modes: every count near N_half p_in / 4 >> threshold
    assert mode_metrics.mode_stats(half, RING.centers, STD)["modes_strict"] == K // 2
    assert mode_metrics.in_radius_share(2) == pytest.approx(IN_RADIUS_2D, rel=1e-12)
    assert mode_metrics.in_radius_share(1) == pytest.approx(stats.chi2.cdf(9, 1), rel=1e-12)


def test_no_high_quality_sample_is_the_worst_case():
    s = mode_metrics.mode_stats(torch.zeros(100, 2), RING.centers, STD)
    assert (s["high_quality"], s["modes"], s["modes_strict"]) == (0.0, 0, 0)
    assert s["kl_uniform"] == pytest.approx(math.log(K)) and s["missed"] == list(range(K))


def test_numpy_input_and_the_grid():
    grid = toy.grid()
    x = grid.sample(N, torch.Generator().manual_seed(3))
    s_torch = mode_metrics.mode_stats(x, grid.centers, float(grid.stds[0]))
    s_numpy = mode_metrics.mode_stats(x.numpy(), grid.centers.numpy(), float(grid.stds[0]))
    assert s_torch == s_numpy and s_torch["modes"] == grid.n_modes == 25
    assert mode_metrics.mode_stats(x, grid.centers, grid.stds[0]) == s_torch  # a 0-d tensor std works too


@pytest.mark.parametrize("kwargs, message", [
    (dict(samples=torch.zeros(5, 3)), r"samples must have shape \(N, 2\)"),
    (dict(samples=torch.zeros(5)), r"samples must have shape \(N, 2\)"),
    (dict(samples=torch.zeros(0, 2)), "samples is empty"),
    (dict(samples=torch.tensor([[0.0, float("nan")], [1.0, 1.0]])), "1 of 2 samples are NaN or infinite"),
    (dict(samples="abc"), "samples must be a numeric array"),
    (dict(centers=torch.zeros(8)), r"centers must have shape \(K, d\)"),
    (dict(std=0.0), "std must be one positive number"),
    (dict(std=float("nan")), "std must be one positive number"),
    (dict(std=np.ones(2)), "std must be one positive number"),
    (dict(std="0.02"), "std must be one positive number"),
    (dict(min_share=1.5), r"min_share must be a fraction in \[0, 1\]"),
])
def test_bad_input_is_a_clear_error(kwargs, message):
    args = dict(samples=torch.zeros(5, 2), centers=RING.centers, std=STD) | kwargs
    min_share = args.pop("min_share", None)
    with pytest.raises(ValueError, match=message):
        mode_metrics.mode_stats(args["samples"], args["centers"], args["std"], min_share=min_share)
