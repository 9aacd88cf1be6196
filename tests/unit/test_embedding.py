"""Tests of labutils.embed (Sammon mapping) and labutils.metrics_embedding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labutils.embedding import sammon as embed
from labutils.embedding.quality import knn_accuracy, sammon_stress, trustworthiness

EPS64 = torch.finfo(torch.float64).eps


def planar_points(n: int = 40, dim: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random 2-D configuration Z (n, 2) and its isometric image X (n, dim) on a random plane."""
    g = torch.Generator().manual_seed(seed)
    Z = torch.rand(n, 2, generator=g, dtype=torch.float64)
    Q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
    return Z, Z @ Q[:2]


def blobs(n: int = 120, dim: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three Gaussian clusters (n, dim) and their labels (n,)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centres = 4.0 * torch.randn(3, dim, generator=g, dtype=torch.float64)
    return centres[labels] + torch.randn(n, dim, generator=g, dtype=torch.float64), labels


def sammon_1969_step(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """One step of Sammon's paper, written pair by pair: -dE/dy_pq / |d2E/dy_pq^2| (eqs. of Sammon 1969)."""
    n, q_dims = Y.shape
    step = np.zeros_like(Y)
    for p in range(n):
        for q in range(q_dims):
            grad = hess = 0.0
            for j in range(n):
                if j == p:
                    continue
                Ds, d = np.linalg.norm(X[p] - X[j]), np.linalg.norm(Y[p] - Y[j])
                diff = Y[p, q] - Y[j, q]
                grad += (Ds - d) / (d * Ds) * diff
                hess += ((Ds - d) - diff**2 / d * (1 + (Ds - d) / d)) / (Ds * d)
            step[p, q] = grad / abs(hess)  # -dE/|d2E| with dE = -(2/c) grad, d2E = -(2/c) hess
    return step


def test_stress_matches_hand_computed_case():
    X = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])  # input distances 3, 4, 5
    Y = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # map distances 1, 1, sqrt(2)
    expected = (2**2 / 3 + 3**2 / 4 + (5 - math.sqrt(2)) ** 2 / 5) / (3 + 4 + 5)
    assert sammon_stress(X, Y) == pytest.approx(expected, rel=10 * EPS64)
    for dtype in (torch.float64, torch.float32):  # the optimiser's own stress, before any step
        first = embed.sammon(X, init=Y, max_iter=0, dtype=dtype, device="cpu").stress_history[0]
        assert first == pytest.approx(expected, rel=100 * torch.finfo(dtype).eps)


def test_stress_is_scale_invariant():
    X, _ = blobs()
    Y = torch.randn(len(X), 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert sammon_stress(3.7 * X, 3.7 * Y) == pytest.approx(sammon_stress(X, Y), rel=1e3 * EPS64)
    # best_scale: the minimum over a of E(aY), whatever the units of Y
    best = sammon_stress(X, Y, best_scale=True)
    assert sammon_stress(X, 5.0 * Y, best_scale=True) == pytest.approx(best, rel=1e3 * EPS64)
    assert all(best < sammon_stress(X, a * Y) for a in np.geomspace(0.01, 100, 41))
    # scaling by a power of two is exact in floating point, so the whole run must scale with it
    a = embed.sammon(X, max_iter=20, dtype=torch.float64, device="cpu")
    b = embed.sammon(8.0 * X, max_iter=20, dtype=torch.float64, device="cpu")
    assert a.stress_history == pytest.approx(b.stress_history, rel=1e3 * EPS64)
    torch.testing.assert_close(8.0 * a.Y, b.Y, rtol=1e-12, atol=0.0)


def test_first_step_is_sammons_1969_update():
    X, _ = blobs(n=12, dim=4)
    Y0 = embed.pca_init(X, 2)
    step = sammon_1969_step(X.numpy(), Y0.numpy())
    while sammon_stress(X, Y0.numpy() + step) >= sammon_stress(X, Y0):  # halve until the stress falls
        step /= 2
    res = embed.sammon(X, init=Y0, max_iter=1, dtype=torch.float64, device="cpu")
    np.testing.assert_allclose(res.Y.numpy(), Y0.numpy() + step, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_optimiser_lowers_stress_and_recovers_planar_configuration(dtype):
    Z, X = planar_points()
    g = torch.Generator().manual_seed(0)
    turn = torch.tensor([[0.77, -0.64], [0.64, 0.77]], dtype=torch.float64)  # ~40 degrees
    init = Z @ turn + 0.1 * torch.randn(Z.shape, generator=g, dtype=torch.float64)
    res = embed.sammon(X, init=init, max_iter=1000, dtype=dtype, device="cpu")
    history = np.array(res.stress_history)
    assert history[0] > 1e-3, "the start must be a real problem"
    assert np.all(np.diff(history) < 0), "every accepted step lowers the stress"
    # an exact map has distances right to rounding, ~100 eps relative, hence a stress below (100 eps)^2
    eps = torch.finfo(dtype).eps
    stress = sammon_stress(X, res.Y)
    assert stress < (100 * eps) ** 2
    # and since stress >= r_ij^2 d*_ij / sum d*: every distance is recovered to that relative error r_ij
    # (plus the rounding of the distances themselves, 100 eps as above)
    iu = np.triu_indices(len(Z), 1)
    exact = "donot_use_mm_for_euclid_dist"
    D = torch.cdist(Z, Z, compute_mode=exact).numpy()[iu]
    d = torch.cdist(res.Y.double(), res.Y.double(), compute_mode=exact).numpy()[iu]
    assert np.all(np.abs(d - D) / D <= np.sqrt(stress * D.sum() / D) + 100 * eps)


def test_exact_planar_map_has_zero_stress():
    Z, X = planar_points()
    assert sammon_stress(X, Z) < (10 * EPS64) ** 2
    res = embed.sammon(X, max_iter=5, dtype=torch.float64, device="cpu")  # PCA of planar data is exact
    assert res.stress_history[0] < (100 * EPS64) ** 2


def test_duplicate_points_share_a_position_and_stress_stays_finite():
    X, _ = blobs(n=60)
    dup = torch.cat([X, X[:10], X[:3]])  # 13 duplicate rows, zero input distances
    res = embed.sammon(dup, max_iter=50, dtype=torch.float64, device="cpu")
    assert res.n_unique == 60
    assert torch.isfinite(res.Y).all()
    assert torch.equal(res.Y[60:70], res.Y[:10]) and torch.equal(res.Y[70:], res.Y[:3])
    # the weighted optimisation minimises the stress over all rows, duplicates included
    assert sammon_stress(dup, res.Y) == pytest.approx(res.stress_history[-1], rel=1e-10)
    assert np.all(np.diff(res.stress_history) < 0)
    moved = res.Y.clone()
    moved[60] += 1.0  # a duplicate pulled away from its twin: d* = 0 < d, infinite 1969 stress
    assert sammon_stress(dup, moved) == math.inf


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.arange(10.0), "2-D"),
        (np.ones((2, 3)), "at least 3"),
        (np.array([[0.0, 1.0], [np.nan, 2.0], [3.0, 4.0]]), "NaN"),
        (np.array([[0.0, 1.0], [np.inf, 2.0], [3.0, 4.0]]), "infinite"),
        (np.ones((5, 3)), "distinct"),
    ],
)
def test_bad_input_gets_a_clear_error(X, message):
    with pytest.raises(ValueError, match=message):
        embed.sammon(X, device="cpu")


def test_bad_init_and_options_get_clear_errors():
    X, _ = blobs(n=20)
    with pytest.raises(ValueError, match="init has shape"):
        embed.sammon(X, init=np.zeros((20, 3)), device="cpu")
    with pytest.raises(ValueError, match="unknown init"):
        embed.sammon(X, init="spectral", device="cpu")
    with pytest.raises(ValueError, match="n_components"):
        embed.sammon(X, n_components=0, device="cpu")


def test_compiled_and_eager_kernels_agree():
    """The fused (torch.compile) kernels compute the same sums as the eager ones, in another order."""
    X, _ = blobs()
    X = torch.cat([X, X[:7]])  # duplicates: the weighted kernels too
    unique, counts = torch.unique(X, dim=0, return_counts=True)
    D = embed.pairwise_distances(unique)
    D /= D.mean()
    kernels = [embed._Stress(D, counts.double(), torch.float64, torch.device("cpu"), compiled=c) for c in (False, True)]
    M = len(unique)
    # Two float64 sums of the same M terms in different orders differ by at most 2 M eps sum |terms|:
    # relative to the value for the stress (positive terms); for the step, whose gradient sums signed
    # terms, that bound is taken relative to the largest step (sum |terms| / |H| ~ its size here).
    tol = 2 * M * EPS64
    random_map = torch.randn(M, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for y in (embed.pca_init(unique, 2), random_map):
        stress = [k.raw(y) for k in kernels]
        assert stress[1] == pytest.approx(stress[0], rel=tol, abs=0)
        eager, fused = (k.newton_step(y) for k in kernels)
        torch.testing.assert_close(fused, eager, rtol=tol, atol=tol * float(eager.abs().max()))
    assert kernels[1].compiled  # ... and the compiled kernel really ran, with no fall-back
    # whole runs agree too, though step halving amplifies the rounding differences over the iterations
    runs = [embed.sammon(X, max_iter=10, dtype=torch.float64, device="cpu", compiled=c) for c in (False, True)]
    assert runs[1].stress_history[-1] == pytest.approx(runs[0].stress_history[-1], rel=1e-6)


def test_compile_failure_falls_back_with_a_warning(monkeypatch):
    def broken(*args):
        raise RuntimeError("no C++ compiler found\nmore detail")

    monkeypatch.setitem(embed._compiled, "step", broken)
    monkeypatch.setitem(embed._compiled, "stress", broken)
    X, _ = blobs()
    with pytest.warns(RuntimeWarning, match="torch.compile failed \\(RuntimeError: no C\\+\\+ compiler found\\)"):
        res = embed.sammon(X, max_iter=5, dtype=torch.float64, device="cpu", compiled=True)
    eager = embed.sammon(X, max_iter=5, dtype=torch.float64, device="cpu", compiled=False)
    assert res.stress_history == eager.stress_history


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_give_the_same_map():
    X, _ = blobs()
    # same float64 arithmetic up to summation order (~1e-15), amplified by at most a few orders over 10 steps
    cpu = embed.sammon(X, max_iter=10, dtype=torch.float64, device="cpu")
    gpu = embed.sammon(X, max_iter=10, dtype=torch.float64, device="cuda")
    assert cpu.n_iter == gpu.n_iter
    assert gpu.stress_history == pytest.approx(cpu.stress_history, rel=1e-10)
    torch.testing.assert_close(gpu.Y, cpu.Y, rtol=1e-8, atol=1e-8)
    fast = embed.sammon(X, max_iter=10, dtype=torch.float32, device="cuda")
    assert fast.stress_history[-1] == pytest.approx(cpu.stress_history[-1], rel=1e-3)


def test_trustworthiness_and_knn_accuracy():
    X, labels = blobs()
    assert trustworthiness(X, X, k=5) == pytest.approx(1.0)
    shuffled = X[torch.randperm(len(X), generator=torch.Generator().manual_seed(0))]
    assert trustworthiness(X, shuffled[:, :2], k=5) < 0.7
    with pytest.raises(ValueError, match="k must be"):
        trustworthiness(X, X, k=len(X))
    assert knn_accuracy(X, labels, k=10) == 1.0  # well separated clusters
    # points on a line with a tie (smallest label wins) and one point nearer the wrong class: 5 / 6
    line = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    assert knn_accuracy(line, np.array([0, 0, 1, 1, 1, 1]), k=2) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="labels must have shape"):
        knn_accuracy(line, np.array([0, 1]), k=2)
