"""How faithful is a 2-D map of high-dimensional points? Sammon's stress, trustworthiness, k-NN accuracy.

All three take X (N, D) the original points and/or Y (N, n) their map, as NumPy arrays or torch
tensors (any device), and compute in float64 on the CPU.

Note: tompollard/sammon (and the MATLAB code it ports) returns *half* of Sammon's 1969 stress (it
scales by 0.5 / the sum over the full distance matrix). :func:`sammon_stress` is the 1969 value.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.manifold import trustworthiness as _sk_trustworthiness

from labutils.arrays import points
from labutils.embedding.sammon import pairwise_distances


def exact_distances(X) -> torch.Tensor:
    """Euclidean distances (N, N) in float64 of the rows of X (N, D), exactly 0 between identical rows."""
    X = points(X, min_rows=3)
    D = pairwise_distances(X)
    _, inverse = torch.unique(X, dim=0, return_inverse=True)
    D[inverse[:, None] == inverse[None, :]] = 0.0
    return D


def sammon_stress(X, Y, *, best_scale: bool = False) -> float:
    """Sammon's (1969) stress of the map Y (N, n) of X (N, D); dimensionless, 0 for a perfect map.

    E = (1 / sum_{i<j} d*_ij) * sum_{i<j} (d*_ij - d_ij)^2 / d*_ij, d* in X and d in Y. Pairs of identical
    X rows count 0 when their Y rows coincide too (0/0) and make E infinite otherwise.
    best_scale: first multiply Y by the factor a > 0 that minimises E(aY), for maps whose units mean nothing
    (t-SNE); deriving a is exercise 2 of notebook 01, so its closed form is not written here.
    """
    D, d = exact_distances(X), exact_distances(Y)
    if D.shape != d.shape:
        raise ValueError(f"X and Y must have the same number of rows, got {D.shape[0]} and {d.shape[0]}")
    iu = torch.triu_indices(len(D), len(D), offset=1)
    D, d = D[iu[0], iu[1]], d[iu[0], iu[1]]
    if float(D.sum()) == 0.0:
        raise ValueError("all points of X are identical: the stress is undefined; pass distinct points")
    both_zero = (D == 0) & (d == 0)
    if best_scale:
        d = d * (d.sum() / torch.where(both_zero, torch.zeros_like(d), d**2 / D).sum())
    terms = torch.where(both_zero, torch.zeros_like(D), (D - d) ** 2 / D)
    return float(terms.sum() / D.sum())


def trustworthiness(X, Y, k: int = 10) -> float:
    """Trustworthiness in [0, 1] of Y (N, n) as a map of X (N, D) at ``k`` neighbours (Venna & Kaski 2001).

    1 - 2 / (N k (2N - 3k - 1)) * sum_i sum_{j in U_k(i)} (r(i, j) - k): U_k(i) are the k nearest map
    neighbours of i that are not among its k nearest in X, r(i, j) the rank of j by distance from i in X.
    Punishes points that look close in the map but are far in the data. Wraps scikit-learn's version.
    """
    X, Y = points(X, min_rows=3), points(Y, "Y", min_rows=3)
    if len(X) != len(Y):
        raise ValueError(f"X and Y must have the same number of rows, got {len(X)} and {len(Y)}")
    if not 1 <= k < len(X) / 2:
        raise ValueError(f"k must be in [1, N/2) = [1, {len(X) / 2:g}), got {k}: use fewer neighbours")
    return float(_sk_trustworthiness(X.numpy(), Y.numpy(), n_neighbors=k))


def knn_accuracy(Y, labels, k: int = 10) -> float:
    """Leave-one-out k-nearest-neighbour classification accuracy in [0, 1] of points Y (N, n) with labels (N,).

    Each point is classified by a majority vote of its k nearest *other* points (Euclidean, in Y);
    a tied vote goes to the smallest label. Deterministic, so no seed is needed.
    """
    Y = points(Y, "Y", min_rows=3)
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if labels.shape != (len(Y),):
        raise ValueError(f"labels must have shape (N,) = ({len(Y)},), got {labels.shape}")
    if not 1 <= k < len(Y):
        raise ValueError(f"k must be in [1, N - 1] = [1, {len(Y) - 1}], got {k}")
    D = pairwise_distances(Y).fill_diagonal_(float("inf")).numpy()
    neighbours = np.argpartition(D, k - 1, axis=1)[:, :k]  # (N, k): the k nearest other points
    classes, codes = np.unique(labels, return_inverse=True)
    votes = (codes[neighbours][:, :, None] == np.arange(len(classes))).sum(axis=1)  # (N, C)
    predicted = classes[votes.argmax(axis=1)]
    return float((predicted == labels).mean())
