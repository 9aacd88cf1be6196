"""labutils.transport: exact Earth mover's distances, checked on cases with known answers and by other solvers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import wasserstein_distance

from labutils.exact import transport

# Exact LP solutions in float64: agreement is limited by rounding only.
TOL = 1e-9


def cloud(n: int, d: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def test_point_masses_distance_is_the_shift():
    shift = np.array([[3.0, 4.0]])
    assert transport.wasserstein_exact(np.zeros((1, 2)), shift) == pytest.approx(5.0, abs=TOL)


def test_translated_cloud_distance_is_the_translation_length():
    # W1(P, P + v) = ||v||: the shift plan costs ||v||, and f(x) = <x, v/||v||> certifies it from below.
    x = cloud(40)
    v = np.array([0.3, -0.4])
    assert transport.wasserstein_exact(x, x + v) == pytest.approx(0.5, abs=TOL)


def test_equal_size_clouds_match_the_assignment_problem():
    # With n points each and uniform weights an optimal plan is a permutation (Birkhoff-von Neumann).
    x, y = cloud(30, seed=1), cloud(30, seed=2) + 1.0
    cost = np.linalg.norm(x[:, None] - y[None], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    assert transport.wasserstein_exact(x, y) == pytest.approx(cost[rows, cols].mean(), abs=TOL)


def test_plan_has_the_right_marginals_and_cost():
    x, y = cloud(7, seed=3), cloud(5, seed=4)
    a = np.arange(1, 8, dtype=float) / 28
    b = np.full(5, 0.2)
    plan, cost = transport.transport_plan(x, y, a, b)
    assert plan.shape == cost.shape == (7, 5) and (plan >= 0).all()
    np.testing.assert_allclose(plan.sum(1), a, atol=TOL)
    np.testing.assert_allclose(plan.sum(0), b, atol=TOL)
    assert transport.wasserstein_exact(x, y, a, b) == pytest.approx(float((plan * cost).sum()), abs=TOL)


def test_no_feasible_plan_is_cheaper_than_the_optimum():
    # Random feasible plans: the product plan a b^T and optimal plans for random costs.
    x, y = cloud(6, seed=5), cloud(6, seed=6)
    a, b = np.full(6, 1 / 6), np.full(6, 1 / 6)
    best = transport.wasserstein_exact(x, y)
    cost = transport.cost_matrix(x, y)
    rng = np.random.default_rng(0)
    others = [float((np.outer(a, b) * cost).sum())]
    for _ in range(20):
        plan, _ = transport.transport_plan(rng.normal(size=(6, 2)), rng.normal(size=(6, 2)))
        others.append(float((plan * cost).sum()))
    assert min(others) >= best - TOL


def test_invariant_to_the_order_of_the_points():
    x, y = cloud(25, seed=7), cloud(20, seed=8)
    a = np.random.default_rng(1).dirichlet(np.ones(25))
    perm = np.random.default_rng(2).permutation(25)
    w = transport.wasserstein_exact(x, y, a)
    assert transport.wasserstein_exact(x[perm], y[::-1], a[perm]) == pytest.approx(w, abs=TOL)


def test_a_metric_symmetric_and_triangular():
    x, y, z = cloud(15, seed=9), cloud(15, seed=10) + 0.5, cloud(15, seed=11) - 0.5
    w = transport.wasserstein_exact
    assert w(x, y) == pytest.approx(w(y, x), abs=TOL)
    assert w(x, z) <= w(x, y) + w(y, z) + TOL
    assert w(x, x) == pytest.approx(0.0, abs=TOL)


def test_any_unit_linear_critic_is_a_lower_bound():
    # Kantorovich-Rubinstein: E_x f - E_y f <= W1 for every 1-Lipschitz f, e.g. f(x) = <u, x>, ||u|| = 1.
    x, y = cloud(50, seed=12), cloud(50, seed=13) * 0.5 + np.array([1.0, 0.0])
    w = transport.wasserstein_exact(x, y)
    for angle in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        u = np.array([np.cos(angle), np.sin(angle)])
        assert (x @ u).mean() - (y @ u).mean() <= w + TOL


def test_accepts_torch_tensors_and_1d_points():
    x = torch.tensor([0.0, 1.0, 2.0])
    assert transport.wasserstein_exact(x, x + 2) == pytest.approx(2.0, abs=TOL)
    assert transport.wasserstein_exact(torch.zeros(4, 3), torch.ones(4, 3)) == pytest.approx(3**0.5, abs=TOL)


def test_1d_equal_sizes_is_the_mean_gap_of_sorted_samples():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=200), rng.exponential(size=200)
    sorted_gap = np.abs(np.sort(x) - np.sort(y)).mean()
    assert transport.wasserstein_1d(x, y) == pytest.approx(sorted_gap, abs=TOL)
    assert transport.wasserstein_1d(x[::-1], y) == pytest.approx(sorted_gap, abs=TOL)


def test_1d_weighted_matches_the_lp_and_scipy():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=13), rng.normal(size=9) + 0.7
    a, b = rng.dirichlet(np.ones(13)), rng.dirichlet(np.ones(9))
    w = transport.wasserstein_1d(x, y, a, b)
    assert w == pytest.approx(transport.wasserstein_exact(x, y, a, b), abs=TOL)
    assert w == pytest.approx(wasserstein_distance(x, y, a, b), abs=TOL)


@pytest.mark.parametrize(("x", "y", "a", "match"), [
    (np.zeros((3, 2)), np.zeros((3, 3)), None, "same space"),
    (np.zeros((0, 2)), np.zeros((3, 2)), None, "at least 1"),
    (np.zeros((2, 2, 2)), np.zeros((3, 2)), None, "2-D array"),
    (np.array([[0.0, np.nan]]), np.zeros((3, 2)), None, "NaN"),
    (np.zeros((3, 2)), np.zeros((3, 2)), np.array([0.5, 0.5]), "one weight per point"),
    (np.zeros((3, 2)), np.zeros((3, 2)), np.array([0.5, 0.5, 0.5]), "sum to 1"),
    (np.zeros((2, 2)), np.zeros((3, 2)), np.array([1.5, -0.5]), "non-negative"),
])
def test_bad_input_is_a_clear_error(x, y, a, match):
    with pytest.raises(ValueError, match=match):
        transport.wasserstein_exact(x, y, a)


def test_1d_refuses_points_in_the_plane():
    with pytest.raises(ValueError, match="use wasserstein_exact"):
        transport.wasserstein_1d(np.zeros((3, 2)), np.zeros((3, 2)))
