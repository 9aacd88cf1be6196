"""Exact optimal transport: the Earth mover's (Wasserstein-1) distance between point clouds and histograms.

``wasserstein_exact`` solves the transport linear programme exactly with POT's network simplex
(``ot.emd``): no entropic smoothing, no minibatch approximation. ``wasserstein_1d`` uses the closed form
on the line, W1 = integral of |F_P - F_Q|, which for two equal-size samples is the mean gap between the
sorted samples. Both take float tensors or arrays and return Python floats in the units of the points.
"""

from __future__ import annotations

import numpy as np
import ot
import torch

from labutils.arrays import points

ArrayLike = torch.Tensor | np.ndarray


def _weights(w: ArrayLike | None, n: int, name: str) -> np.ndarray:
    """Probability weights (n,): uniform when ``w`` is None; checked to be non-negative and to sum to 1."""
    if w is None:
        return np.full(n, 1.0 / n)
    arr = w.detach().cpu().double().numpy() if isinstance(w, torch.Tensor) else np.asarray(w, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have one weight per point, shape ({n},), got {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any() or abs(arr.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name} must be non-negative and sum to 1 (got sum {arr.sum():.6g}); normalise it first")
    return arr


def cost_matrix(x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Euclidean ground cost ||x_i - y_j||_2: x (n, d), y (m, d) → (n, m) float64."""
    xs, ys = points(x, "x", line=True).numpy(), points(y, "y", line=True).numpy()
    if xs.shape[1] != ys.shape[1]:
        raise ValueError(f"x and y must live in the same space, got dimensions {xs.shape[1]} and {ys.shape[1]}")
    return ot.dist(xs, ys, metric="euclidean")


def transport_plan(x: ArrayLike, y: ArrayLike, a: ArrayLike | None = None, b: ArrayLike | None = None,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """An optimal transport plan between sum_i a_i delta_{x_i} and sum_j b_j delta_{y_j} (exact LP).

    x: (n, d), y: (m, d) points; a: (n,), b: (m,) weights (uniform when None).
    Returns ``(plan, cost)``, both (n, m): plan[i, j] is the mass moved from x_i to y_j (rows sum to a,
    columns to b) and cost[i, j] = ||x_i - y_j||; the distance is ``(plan * cost).sum()``.
    """
    cost = cost_matrix(x, y)
    a_, b_ = _weights(a, cost.shape[0], "a"), _weights(b, cost.shape[1], "b")
    plan, log = ot.emd(a_, b_, cost, numItermax=10_000_000, log=True)
    if log["warning"] is not None:
        raise RuntimeError(f"the exact transport solver did not converge ({log['warning']}); use fewer points")
    return plan, cost


def wasserstein_exact(x: ArrayLike, y: ArrayLike, a: ArrayLike | None = None, b: ArrayLike | None = None) -> float:
    """Exact W1 (Earth mover's distance, Euclidean cost) between two weighted point clouds.

    x: (n, d), y: (m, d); a: (n,), b: (m,) probability weights, uniform when None. Cost O(n^2 m) time
    worst case: a few thousand points per side take seconds.
    """
    plan, cost = transport_plan(x, y, a, b)
    return float((plan * cost).sum())


def wasserstein_1d(x: ArrayLike, y: ArrayLike, a: ArrayLike | None = None, b: ArrayLike | None = None) -> float:
    """Exact W1 on the line, W1 = integral |F_x(t) - F_y(t)| dt, from the two empirical CDFs.

    x: (n,) or (n, 1), y: (m,) or (m, 1) points; a, b: weights (uniform when None). With equal sizes and
    uniform weights this is mean |sort(x) - sort(y)|.
    """
    xs, ys = points(x, "x", line=True).numpy(), points(y, "y", line=True).numpy()
    if xs.shape[1] != 1 or ys.shape[1] != 1:
        raise ValueError(f"wasserstein_1d takes points on the line, got dimensions {xs.shape[1]} and {ys.shape[1]}; "
                         "use wasserstein_exact for points in several dimensions")
    xs, ys = xs[:, 0], ys[:, 0]
    a_, b_ = _weights(a, xs.size, "a"), _weights(b, ys.size, "b")
    grid = np.concatenate([xs, ys])
    order = np.argsort(grid, kind="stable")
    grid = grid[order]
    # CDF difference just right of each grid point: +a at x points, -b at y points, accumulated.
    jumps = np.concatenate([a_, -b_])[order]
    cdf_gap = np.cumsum(jumps)[:-1]
    return float(np.sum(np.abs(cdf_gap) * np.diff(grid)))
