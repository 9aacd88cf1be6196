"""Sammon's (1969) nonlinear mapping in torch: vectorised, on the accelerator when there is one.

Sammon's stress of a map Y (N, n) of points X (N, D), with input distances d*_ij and map distances
d_ij, is

    E = 1 / (sum_{i<j} d*_ij) * sum_{i<j} (d*_ij - d_ij)^2 / d*_ij .

:func:`sammon` minimises it with Sammon's pseudo-Newton step (the gradient divided by the absolute
diagonal of the Hessian) and, as in the widely used MATLAB/NumPy versions, halves the step until the
stress falls. One guard is added: where the diagonal Hessian is nearly 0 the classic step explodes
(and 20 halvings cannot tame it), so a coordinate never moves more than the mean input distance in
one iteration; typical steps are ten times smaller, so the guard rarely binds. Every iteration is
two whole-matrix kernels (the step, then the stress of each trial map), which torch.compile fuses on the
CPU into loops over the pairs (memory: one N x N matrix of the working dtype).

Duplicate points. A pair with d*_ij = 0 and d_ij > 0 has infinite stress, so identical input rows
must share one map position; their own 0/0 term counts as 0. :func:`sammon` therefore embeds each
distinct row once, weighting its pairs by the multiplicities (which minimises exactly the stress over
all N points), and copies the position back to every duplicate. Map points that coincide are held
``sqrt(eps)`` (in units of the mean input distance) apart so 1/d_ij stays finite.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from labutils.arrays import points
from labutils.device import pick_device

STOP_REASONS = ("tolerance", "max_iter", "no_descent", "zero_stress")
MAX_STEP = 1.0  # largest move of a coordinate per iteration, in units of the mean input distance


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
    Y0 = points(init, "init", min_rows=3)
    if tuple(Y0.shape) != (X.shape[0], n_components):
        raise ValueError(f"init has shape {tuple(Y0.shape)}, expected (N, n_components) = {(X.shape[0], n_components)}")
    return Y0


def _pair_mask(M: int, device: torch.device) -> torch.Tensor:
    """(M, M) bool, True on the diagonal: built from two aranges, so a compiled kernel never stores it."""
    i = torch.arange(M, device=device)
    return i[:, None] == i[None, :]


def _coordinate_differences(yt: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """([y_ip - y_jp as (M, M) for each coordinate p], squared distances (M, M)) of the map yt (n, M)."""
    diffs = [yt[p, :, None] - yt[p, None, :] for p in range(yt.shape[0])]
    d2 = diffs[0] * diffs[0]
    for diff in diffs[1:]:
        d2 = d2 + diff * diff
    return diffs, d2


def _step_sums(yt: torch.Tensor, D: torch.Tensor, m: torch.Tensor, floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient and diagonal Hessian (n, M) of the stress at the map yt (n, M), a quarter of the true ones.

    With delta_ij = 1/d_ij - 1/D*_ij: g_ip = -sum_j m_j delta_ij (y_ip - y_jp) and
    H_ip = sum_j m_j [(y_ip - y_jp)^2 / d_ij^3 - delta_ij]. Both are summed from coordinate differences:
    the shortcut delta (m y) - y (delta m) cancels badly near a minimum and stalls a float32 run early.
    Written as whole (M, M) expressions, one coordinate at a time (which compiles to a faster loop than
    an (n, M, M) tensor); compiled, they become one loop over the pairs that never stores a matrix.
    """
    diffs, d2 = _coordinate_differences(yt)
    dinv = torch.rsqrt(d2.clamp_min(floor * floor))
    delta = torch.where(_pair_mask(yt.shape[1], yt.device), 0.0, (dinv - 1.0 / D) * m)  # m_j delta_ij, 0 if i = j
    w3 = dinv * dinv * dinv * m
    delta_sum = delta.sum(1)
    grad = torch.stack([-(delta * diff).sum(1) for diff in diffs])
    hess = torch.stack([(diff * diff * w3).sum(1) - delta_sum for diff in diffs])
    return grad, hess


def _stress_sum(yt: torch.Tensor, D: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Unnormalised stress sum_{i != j} m_i m_j (D*_ij - d_ij)^2 / D*_ij of the map yt (n, M), float64."""
    d = _coordinate_differences(yt)[1].sqrt()
    terms = torch.where(_pair_mask(yt.shape[1], yt.device), 0.0, (D - d) ** 2 / D * (m[:, None] * m))
    return terms.double().sum()


_compiled: dict[str, object] = {}


def _kernels(compiled: bool) -> tuple:
    """(step sums, stress sum): eager, or compiled once per process with torch.compile (dynamic shapes)."""
    if not compiled:
        return _step_sums, _stress_sum
    if not _compiled:
        _compiled.update(step=torch.compile(_step_sums, dynamic=True), stress=torch.compile(_stress_sum, dynamic=True))
    return _compiled["step"], _compiled["stress"]


class _Stress:
    """Sammon's stress and pseudo-Newton step of a map y (M, n) of M distinct points with multiplicities m.

    Holds one (M, M) matrix, D* scaled to unit mean (diagonal 1), in the working dtype on the device.
    The kernels are whole-matrix expressions over all pairs. Eager, each operation stores an (M, M)
    temporary; compiled (the default on the CPU), torch.compile fuses each kernel into one loop over the
    pairs that reads D* once and keeps everything else in registers: 11x faster per iteration at
    N = 1,000 and 22x at N = 2,000 (benchmarks/sammon.py, float32).
    """

    def __init__(self, D: torch.Tensor, counts: torch.Tensor, dtype: torch.dtype, device: torch.device,
                 compiled: bool):
        self.D = D.clone().fill_diagonal_(1.0).to(device, dtype)
        self.counts = counts.to(device, dtype)
        weight = counts[:, None] * counts[None, :]
        self.norm = float((weight * D).sum())  # sum over ordered pairs i != j of m_i m_j D* (diagonal of D is 0)
        self.floor = torch.finfo(dtype).eps ** 0.5  # map distances below it are raised to it in the step
        self.compiled = compiled
        self._kernels = _kernels(compiled)

    def _call(self, kernel: int, *args):
        """Run kernel 0 (step sums) or 1 (stress sum); if compiling it fails, warn and go on eagerly."""
        try:
            return self._kernels[kernel](*args)
        except Exception as err:  # noqa: BLE001 - whatever the compiler raised, the eager kernel still works
            if not self.compiled:
                raise
            first_line = (str(err).splitlines() or [""])[0]
            warnings.warn(f"torch.compile failed ({type(err).__name__}: {first_line}); Sammon goes on uncompiled, "
                          "much slower per iteration. Pass compiled=False to skip the attempt.",
                          RuntimeWarning, stacklevel=4)
            self.compiled, self._kernels = False, _kernels(False)
            return self._kernels[kernel](*args)

    def raw(self, y: torch.Tensor) -> float:
        """Unnormalised stress sum_{i != j} m_i m_j (D*_ij - d_ij)^2 / D*_ij of the map y (M, n)."""
        return float(self._call(1, y.T.contiguous(), self.D, self.counts))

    def newton_step(self, y: torch.Tensor) -> torch.Tensor:
        """Sammon's step -g / |diag H| (M, n) at the map y (M, n), each coordinate capped at MAX_STEP."""
        grad, hess = self._call(0, y.T.contiguous(), self.D, self.counts, self.floor)
        step = -grad / hess.abs().clamp_min(torch.finfo(y.dtype).tiny)
        return step.clamp_(-MAX_STEP, MAX_STEP).T


def sammon(X, n_components: int = 2, *, init="pca", max_iter: int = 500, tol: float = 1e-9,
           max_halves: int = 20, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32,
           generator: torch.Generator | None = None, progress: bool = False,
           compiled: bool | None = None) -> SammonResult:
    """Sammon map of X (N, D) into ``n_components`` dimensions.

    init: "pca" (centred principal-component scores), "random" (normal from ``generator``, standard
    deviation the mean input distance) or an (N, n_components) array in the units of X.
    Stops after ``max_iter`` iterations, when an iteration lowers the stress by less than ``tol``
    relative, or when ``max_halves`` halvings of the step do not lower it.
    device: None picks CUDA/MPS/CPU (``labutils.device.pick_device``). dtype: float32 (fast) or
    float64 (reference accuracy; not on MPS); distances and the PCA are always computed in float64.
    progress: show a tqdm bar. Duplicate rows: see the module docstring.
    compiled: fuse the kernels with torch.compile (None: on the CPU only). The first call in a process
    compiles them (seconds; later processes reuse torch's on-disk cache); if that fails, a warning says so
    and the run goes on uncompiled.
    """
    if not isinstance(n_components, int) or n_components < 1:
        raise ValueError(f"n_components must be a positive int, got {n_components!r}")
    if max_iter < 0 or max_halves < 1 or tol < 0:
        raise ValueError(f"need max_iter >= 0, max_halves >= 1, tol >= 0; got {max_iter}, {max_halves}, {tol}")
    X = points(X, min_rows=3)
    dev = pick_device(None if device is None else str(device))
    unique, inverse, counts = torch.unique(X, dim=0, return_inverse=True, return_counts=True)
    if len(unique) < 3:
        raise ValueError(f"X has only {len(unique)} distinct rows: a map needs at least 3 distinct points")
    first = torch.full((len(unique),), X.shape[0], dtype=torch.long).scatter_reduce_(
        0, inverse, torch.arange(X.shape[0]), reduce="amin")  # a representative row of each distinct point
    D = pairwise_distances(unique)
    scale = float(D.sum() / (len(unique) * (len(unique) - 1)))  # mean distance; the stress is scale-free
    Y0 = _initial_map(init, X, n_components, generator, scale)
    stress = _Stress(D / scale, counts.double(), dtype, dev, dev.type == "cpu" if compiled is None else compiled)
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
