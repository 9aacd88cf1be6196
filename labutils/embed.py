"""Sammon's (1969) nonlinear mapping in torch: vectorised, on the accelerator when there is one.

Sammon's stress of a map Y (N, n) of points X (N, D), with input distances d*_ij and map distances
d_ij, is

    E = 1 / (sum_{i<j} d*_ij) * sum_{i<j} (d*_ij - d_ij)^2 / d*_ij .

:func:`sammon` minimises it with Sammon's pseudo-Newton step (the gradient divided by the absolute
diagonal of the Hessian) and, as in the widely used MATLAB/NumPy versions, halves the step until the
stress falls. One guard is added: where the diagonal Hessian is nearly 0 the classic step explodes
(and 20 halvings cannot tame it), so a coordinate never moves more than the mean input distance in
one iteration; typical steps are ten times smaller, so the guard rarely binds. Every iteration is
a handful of whole-matrix operations, done in blocks of rows on the CPU (memory: one N x N matrix
of the working dtype, plus work buffers).

Duplicate points. A pair with d*_ij = 0 and d_ij > 0 has infinite stress, so identical input rows
must share one map position; their own 0/0 term counts as 0. :func:`sammon` therefore embeds each
distinct row once, weighting its pairs by the multiplicities (which minimises exactly the stress over
all N points), and copies the position back to every duplicate. Map points that coincide are held
``sqrt(eps)`` (in units of the mean input distance) apart so 1/d_ij stays finite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from labutils.device import pick_device

STOP_REASONS = ("tolerance", "max_iter", "no_descent", "zero_stress")
MAX_STEP = 1.0  # largest move of a coordinate per iteration, in units of the mean input distance
CPU_BLOCK_ELEMENTS = 2**18  # pairs per block on the CPU: 1 MiB float32 buffers stay in the cache (measured)


@dataclass
class SammonResult:
    """Output of :func:`sammon`.

    Y: (N, n_components) map coordinates, CPU tensor in the working dtype, in the units of X.
    stress_history: Sammon's 1969 stress (dimensionless) at the initial map and after every iteration.
    n_iter: iterations taken (accepted steps). stop_reason: one of ``STOP_REASONS``.
    n_unique: number of distinct input rows actually embedded (N minus duplicates).
    """

    Y: torch.Tensor
    stress_history: list[float] = field(default_factory=list)
    n_iter: int = 0
    stop_reason: str = ""
    n_unique: int = 0


def as_points(X, name: str = "X") -> torch.Tensor:
    """``X`` as a float64 CPU tensor (N, D) after checking it is 2-D, has >= 3 rows and is finite."""
    t = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X).detach().cpu().double()
    if t.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N points, D features), got shape {tuple(t.shape)}: "
                         f"pass one row per point, e.g. {name}.reshape(len({name}), -1) for images "
                         f"or {name}.reshape(-1, 1) for a list of numbers")
    if t.shape[0] < 3:
        raise ValueError(f"{name} has {t.shape[0]} points; a map needs at least 3 distinct points "
                         f"(with 2 the distance is preserved trivially): pass more points")
    if not torch.isfinite(t).all():
        bad = (~torch.isfinite(t)).any(dim=1).nonzero().flatten()[:5].tolist()
        raise ValueError(f"{name} contains NaN or infinite values (rows {bad}...): drop or impute those rows first")
    return t


def pairwise_distances(X: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (N, N) of the rows of X (N, D), via the Gram matrix of the centred data.

    Exact zeros on the diagonal; tiny negative squared distances from rounding are clipped to 0.
    """
    Xc = X - X.mean(dim=0)
    sq = (Xc * Xc).sum(dim=1)
    D = (sq[:, None] + sq[None, :] - 2.0 * (Xc @ Xc.T)).clamp_min_(0.0).sqrt_()
    D.fill_diagonal_(0.0)
    return D


def pca_init(X: torch.Tensor, n_components: int) -> torch.Tensor:
    """Scores (N, n_components) of the centred X on its top principal axes, signs fixed.

    Each axis is flipped so its largest-magnitude loading is positive: the same map on every device.
    """
    if n_components > X.shape[1]:
        raise ValueError(f"init='pca' needs n_components <= D = {X.shape[1]}: use init='random' or fewer components")
    Xc = X - X.mean(dim=0)
    _, vecs = torch.linalg.eigh(Xc.T @ Xc)
    axes = vecs[:, -n_components:].flip(-1)
    signs = torch.sign(axes.gather(0, axes.abs().argmax(dim=0, keepdim=True)))
    return Xc @ (axes * signs)


def _initial_map(init, X: torch.Tensor, n_components: int, generator: torch.Generator | None,
                 scale: float) -> torch.Tensor:
    """The starting map (N, n_components) in the units of X; ``scale`` is the mean input distance."""
    if isinstance(init, str) and init == "pca":
        return pca_init(X, n_components)
    if isinstance(init, str) and init == "random":
        return scale * torch.randn(X.shape[0], n_components, generator=generator, dtype=torch.float64)
    if isinstance(init, str):
        raise ValueError(f"unknown init {init!r}: use 'pca', 'random' or an (N, n_components) array")
    Y0 = as_points(init, "init")
    if tuple(Y0.shape) != (X.shape[0], n_components):
        raise ValueError(f"init has shape {tuple(Y0.shape)}, expected (N, n_components) = {(X.shape[0], n_components)}")
    return Y0


class _Stress:
    """Sammon's stress and pseudo-Newton step of a map y (M, n) of M distinct points with multiplicities m.

    Holds one (M, M) matrix in the working dtype on the device, sqrt(m_i m_j D*_ij) with D* scaled to
    unit mean; 1/D* and sqrt(m_i m_j / D*) are recomputed from it block by block, which is cheaper
    than reading them from memory. The stress is symmetric, so only pairs j >= i are visited, in blocks
    of rows of about ``block_elements`` pairs each: on the CPU their temporaries stay in the cache.
    The stress of a trial map takes its distances from one matrix product (|y_i|^2 + |y_j|^2 -
    2 y_i.y_j), whose rounding (~eps |y|^2) moves the stress by ~eps relative; the step takes them
    from coordinate differences, accurate for close pairs, whose 1/d^3 weights dominate the Hessian.
    """

    def __init__(self, D: torch.Tensor, counts: torch.Tensor, n_components: int, dtype: torch.dtype,
                 device: torch.device, block_elements: int):
        weight = counts[:, None] * counts[None, :]  # m_i m_j: pair multiplicity
        D = D.clone().fill_diagonal_(1.0)  # diagonal terms vanish: d_ii := 1 = D_ii
        self.sqrt_wD = (weight * D).sqrt().to(device, dtype)  # the only stored (M, M) matrix
        self.counts = counts.to(device, dtype)
        self.weighted = bool((counts > 1).any())
        self.norm = float((weight * D).sum() - (counts**2).sum())  # sum over ordered pairs i != j of m_i m_j D*
        self.floor = torch.finfo(dtype).eps ** 0.5  # map distances below it are raised to it
        M, start, self.blocks = len(D), 0, []
        while start < M:  # blocks of rows whose trapezoid (rows x columns >= first row) holds ~block_elements
            stop = min(M, start + max(1, block_elements // (M - start)))
            self.blocks.append(slice(start, stop))
            start = stop
        size = max(min(block_elements, M * M), M)
        self.d_buf, self.work_buf = (torch.empty(size, dtype=dtype, device=device) for _ in range(2))
        self.sq_buf = torch.empty(n_components * size, dtype=dtype, device=device)

    def _block(self, rows: slice) -> tuple[slice, torch.Tensor, torch.Tensor]:
        """The columns j >= first row of the block, and (rows, columns) views of the two work buffers."""
        b, c = rows.stop - rows.start, self.sqrt_wD.shape[1] - rows.start
        return slice(rows.start, None), self.d_buf[: b * c].view(b, c), self.work_buf[: b * c].view(b, c)

    def _weighted_inverse(self, rows: slice, cols: slice, power: int, out: torch.Tensor) -> torch.Tensor:
        """m_i m_j / sqrt(m_i m_j D*_ij)^power on the block: sqrt(w/D*) for power 1, 1/D* for power 2."""
        torch.reciprocal(self.sqrt_wD[rows, cols], out=out)
        if power == 2:
            out.square_()
        if self.weighted:
            out.mul_(self.counts[rows, None]).mul_(self.counts[None, cols])
        return out

    def raw(self, y: torch.Tensor) -> float:
        """Unnormalised stress sum_{i != j} m_i m_j (D*_ij - d_ij)^2 / D*_ij of the map y (M, n).

        Each block of rows I meets the columns j >= min I: its square part I x I holds both orders
        of its pairs, the rest each pair once, so that part counts twice.
        """
        sq = (y * y).sum(dim=1, keepdim=True)
        ones = torch.ones_like(sq)
        left, right = torch.cat([-2.0 * y, sq, ones], 1), torch.cat([y, ones, sq], 1).T
        total = torch.zeros((), dtype=torch.float64, device=y.device)
        for rows in self.blocks:
            cols, d, work = self._block(rows)
            torch.matmul(left[rows], right[:, cols], out=d)
            d.clamp_min_(self.floor**2).sqrt_().diagonal().fill_(1.0)
            sqrt_w_over_D = self._weighted_inverse(rows, cols, 1, out=work)
            torch.addcmul(self.sqrt_wD[rows, cols], d, sqrt_w_over_D, value=-1.0, out=work)  # sqrt(w/D*) (D* - d)
            work.square_()
            total += 2.0 * work.sum() - work[:, : rows.stop - rows.start].sum()
        return float(total)

    def newton_step(self, y: torch.Tensor) -> torch.Tensor:
        """Sammon's step -g / |diag H| (M, n) at the map y (M, n).

        With delta_ij = 1/d_ij - 1/D*_ij: g_ip = sum_j m_j delta_ij (y_jp - y_ip) and
        H_ip = sum_j m_j [(y_ip - y_jp)^2 / d_ij^3 - delta_ij], a quarter of the true derivatives
        (the factor cancels in the step). g is summed as delta (m y) - y (delta m): its rounding,
        ~eps sum_j |delta_ij| |y_j|, moves the step by ~eps |y| since |H_i| ~ sum_j |delta_ij|.
        Blocks as in ``raw``: a pair outside the square part adds to the sums of both its rows.
        """
        n = y.shape[1]
        m, yt = self.counts, y.T.contiguous()  # yt (n, M): contiguous coordinates broadcast fast
        weights_t = torch.cat([m * yt, m[None, :]])  # (n + 1, M): m_j y_jp and m_j
        sums = torch.zeros_like(weights_t)  # (n + 1, M): sum_j delta_ij m_j y_jp and sum_j delta_ij m_j
        curvature = torch.zeros_like(y)  # sum_j m_j (y_ip - y_jp)^2 / d_ij^3
        for rows in self.blocks:
            cols, d, work = self._block(rows)
            b, rest = rows.stop - rows.start, slice(rows.stop, None)
            sq = self.sq_buf[: n * d.numel()].view(n, *d.shape)
            for p, sq_p in enumerate(sq):
                torch.sub(yt[p, rows, None], yt[p, None, cols], out=sq_p).square_()  # (y_ip - y_jp)^2
            d.copy_(sq[0])
            for sq_p in sq[1:]:
                d.add_(sq_p)
            d.sqrt_().clamp_min_(self.floor).diagonal().fill_(1.0)
            dinv = d.reciprocal_()
            delta = torch.sub(dinv, self._weighted_inverse(rows, cols, 2, out=work), out=work)
            sums[:, rows] += weights_t[:, cols] @ delta.T  # (row vector) @ matrix: the fast BLAS layout
            sums[:, rest] += weights_t[:, rows] @ delta[:, b:]
            dinv3 = dinv.pow_(3)
            for p, sq_p in enumerate(sq):
                sq_p.mul_(dinv3)
                curvature[rows, p] += sq_p @ m[cols]
                curvature[rest, p] += m[rows] @ sq_p[:, b:]
        grad = (sums[:n] - yt * sums[n:]).T
        hess = curvature - sums[n:].T
        step = -grad / hess.abs().clamp_min(torch.finfo(y.dtype).tiny)
        return step.clamp_(-MAX_STEP, MAX_STEP)


def sammon(X, n_components: int = 2, *, init="pca", max_iter: int = 500, tol: float = 1e-9,
           max_halves: int = 20, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32,
           generator: torch.Generator | None = None, progress: bool = False) -> SammonResult:
    """Sammon map of X (N, D) into ``n_components`` dimensions.

    init: "pca" (centred principal-component scores), "random" (normal from ``generator``, standard
    deviation the mean input distance) or an (N, n_components) array in the units of X.
    Stops after ``max_iter`` iterations, when an iteration lowers the stress by less than ``tol``
    relative, or when ``max_halves`` halvings of the step do not lower it.
    device: None picks CUDA/MPS/CPU (``labutils.device.pick_device``). dtype: float32 (fast) or
    float64 (reference accuracy; not on MPS); distances and the PCA are always computed in float64.
    progress: show a tqdm bar. Duplicate rows: see the module docstring.
    """
    if not isinstance(n_components, int) or n_components < 1:
        raise ValueError(f"n_components must be a positive int, got {n_components!r}")
    if max_iter < 0 or max_halves < 1 or tol < 0:
        raise ValueError(f"need max_iter >= 0, max_halves >= 1, tol >= 0; got {max_iter}, {max_halves}, {tol}")
    X = as_points(X)
    dev = pick_device(None if device is None else str(device))
    unique, inverse, counts = torch.unique(X, dim=0, return_inverse=True, return_counts=True)
    if len(unique) < 3:
        raise ValueError(f"X has only {len(unique)} distinct rows: a map needs at least 3 distinct points")
    first = torch.full((len(unique),), X.shape[0], dtype=torch.long).scatter_reduce_(
        0, inverse, torch.arange(X.shape[0]), reduce="amin")  # a representative row of each distinct point
    D = pairwise_distances(unique)
    scale = float(D.sum() / (len(unique) * (len(unique) - 1)))  # mean distance; the stress is scale-free
    Y0 = _initial_map(init, X, n_components, generator, scale)
    block_elements = CPU_BLOCK_ELEMENTS if dev.type == "cpu" else len(unique) ** 2
    stress = _Stress(D / scale, counts.double(), n_components, dtype, dev, block_elements)
    y = (Y0[first] / scale).to(dev, dtype)

    E = stress.raw(y)
    history, stop_reason, n_iter = [E / stress.norm], "max_iter", 0
    bar = tqdm(total=max_iter, desc="Sammon", unit="it", disable=not progress, leave=False)
    while n_iter < max_iter:
        if E == 0.0:
            stop_reason = "zero_stress"
            break
        step = stress.newton_step(y)
        for _ in range(max_halves):
            y_new = y + step
            E_new = stress.raw(y_new)
            if E_new < E:
                break
            step.mul_(0.5)
        else:
            stop_reason = "no_descent"
            break
        n_iter += 1
        history.append(E_new / stress.norm)
        bar.update()
        converged = (E - E_new) / E < tol
        y, E = y_new, E_new
        if converged:
            stop_reason = "tolerance"
            break
    bar.close()
    Y = (y.cpu() * scale)[inverse]
    return SammonResult(Y=Y, stress_history=history, n_iter=n_iter, stop_reason=stop_reason, n_unique=len(unique))
