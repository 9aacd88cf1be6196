"""Exact 1-D integrals: densities tabulated on a uniform grid, integrated by the trapezoid rule.

The one grid (:func:`grid`), the one integrator (:func:`integrate`) and the one Gaussian log-density
(:func:`gaussian_log_prob`) of labutils; :mod:`labutils.exact.fdivergences` builds on them.

In one dimension a density is a vector of its values on a grid ``x`` (float64, (G,)), so KL, JSD and
the GAN value V(G, D) become sums and can be computed to many digits, next to what a network
estimates from samples. Generated samples become a density through :func:`kde` (linear binning,
then a Gaussian convolution on the grid); :func:`convolve_gaussian` is also the density of
``X + N(0, sigma^2)``, i.e. what a discriminator sees under instance noise.

Conventions: 0 log 0 = 0; KL(p || q) is +inf where q = 0 on p's mass (pass ``log_q`` when that zero is only
float64 underflow in q's far tails); every function returns nats.
"""

from __future__ import annotations

import math

import torch

Array = torch.Tensor

_UNIFORM_RTOL = 1e-6


def grid(lo: float, hi: float, n: int = 4001) -> Array:
    """``n`` equally spaced points from ``lo`` to ``hi`` (float64, (n,)); choose it to hold all the mass."""
    if not hi > lo:
        raise ValueError(f"the grid needs lo < hi, got lo={lo}, hi={hi}")
    if n < 3:
        raise ValueError(f"a grid needs at least 3 points, got n={n}")
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def spacing(x: Array) -> float:
    """The step of a uniform grid ``x`` (G,); ValueError if ``x`` is not uniform and increasing."""
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim != 1 or x.numel() < 3:
        raise ValueError(f"x must be a 1-D grid of at least 3 points, got shape {tuple(x.shape)}")
    steps = x.diff()
    h = float(steps.mean())
    if h <= 0 or float((steps - h).abs().max()) > _UNIFORM_RTOL * h:
        raise ValueError("x must be an increasing, equally spaced grid: build it with quadrature.grid(lo, hi, n)")
    return h


def gaussian_log_prob(x: Array, mu: float | Array, sigma: float | Array) -> Array:
    """log N(x; mu, sigma^2), elementwise with broadcasting (float64): the one Gaussian log-density of labutils."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    if not bool((sigma > 0).all()):
        raise ValueError(f"sigma must be positive, got {sigma.tolist()}")
    x = torch.as_tensor(x, dtype=torch.float64)
    return -0.5 * ((x - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)  # -z²/2 - log(σ√(2π))


def _on_grid(values: Array, x: Array, name: str) -> Array:
    values = torch.as_tensor(values, dtype=torch.float64)
    if values.shape != torch.as_tensor(x).shape:
        raise ValueError(f"{name} must hold one value per grid point: shape {tuple(values.shape)} "
                         f"vs grid {tuple(torch.as_tensor(x).shape)}")
    return values


def _density(p: Array, x: Array, name: str) -> Array:
    p = _on_grid(p, x, name)
    if bool((p < 0).any()) or not bool(torch.isfinite(p).all()):
        raise ValueError(f"{name} must be finite and non-negative on the grid (a density, not a log-density)")
    return p


def integrate(values: Array, x: Array) -> float:
    """Trapezoid rule for the integral of ``values`` (G,) over the uniform grid ``x`` (G,)."""
    spacing(x)
    return float(torch.trapezoid(_on_grid(values, x, "values"), torch.as_tensor(x, dtype=torch.float64)))


def mass(p: Array, x: Array) -> float:
    """Total probability of the density ``p`` on the grid: 1 up to quadrature error if the grid covers it."""
    return integrate(_density(p, x, "p"), x)


def entropy(p: Array, x: Array) -> float:
    """Differential entropy H(p) = -integral p log p (nats)."""
    p = _density(p, x, "p")
    return -integrate(torch.special.xlogy(p, p), x)


def _log_of(q: Array, x: Array, log_q: Array | None) -> Array:
    """log q on the grid: the given exact log-density (finite where q underflows to 0), else log of q."""
    if log_q is None:
        return torch.log(q)
    log_q = _on_grid(log_q, x, "log_q")
    if not bool(torch.allclose(log_q.exp(), q, rtol=1e-6, atol=1e-300)):
        raise ValueError("log_q must be the log of q on the grid (pass the same density twice)")
    return log_q


def cross_entropy(p: Array, q: Array, x: Array, *, log_q: Array | None = None) -> float:
    """Cross-entropy -integral p log q = -E_p[log q] (nats); +inf if q vanishes on p's mass.

    Pass ``log_q`` (the exact log-density on the grid) where q's far tails underflow to 0 in float64
    while p's do not: the tails then contribute their (negligible) true amount instead of +inf.
    """
    p, q = _density(p, x, "p"), _density(q, x, "q")
    log_q = _log_of(q, x, log_q)
    if bool(((log_q == -math.inf) & (p > 0)).any()):
        return math.inf
    return -integrate(torch.where(p > 0, p * log_q, 0.0), x)


def kl_divergence(p: Array, q: Array, x: Array, *, log_q: Array | None = None) -> float:
    """KL(p || q) = integral p log(p / q) (nats); +inf if q vanishes where p has mass.

    ``log_q``: as in :func:`cross_entropy`, the exact log-density of q, for q's underflowing tails.
    """
    p, q = _density(p, x, "p"), _density(q, x, "q")
    log_q = _log_of(q, x, log_q)
    if bool(((log_q == -math.inf) & (p > 0)).any()):
        return math.inf
    return integrate(torch.special.xlogy(p, p) - torch.where(p > 0, p * log_q, 0.0), x)


def js_divergence(p: Array, q: Array, x: Array) -> float:
    """JSD(p || q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2; between 0 and log 2 (nats)."""
    p, q = _density(p, x, "p"), _density(q, x, "q")
    log_m = torch.log(p + q) - math.log(2)  # not log((p + q) / 2): halving a tiny density can underflow to 0
    kl_p = torch.special.xlogy(p, p) - torch.where(p > 0, p * log_m, 0.0)
    kl_q = torch.special.xlogy(q, q) - torch.where(q > 0, q * log_m, 0.0)
    return integrate(0.5 * kl_p + 0.5 * kl_q, x)


def _gaussian_filter(values: Array, h: float, sigma: float, reflect: bool) -> Array:
    """values (G,) convolved with N(0, sigma^2) sampled at the grid step h (zero or mirrored ends).

    By FFT (O(G log G), so wide kernels cost nothing); round-off below ~1e-16 of the peak is clamped at 0.
    """
    n = values.numel()
    half = min(int(math.ceil(6 * sigma / h)), n - 1)
    offsets = torch.arange(-half, half + 1, dtype=torch.float64) * h
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()  # weights summing to 1: the discrete convolution keeps the mass
    if reflect:  # mirror about the grid's ends (edge value included): the sum of the values is kept
        padded = torch.cat([values[:half].flip(0), values, values[n - half:].flip(0)])
    else:
        padded = torch.nn.functional.pad(values, (half, half))
    size = 1 << (padded.numel() + kernel.numel() - 2).bit_length()  # a power of 2 >= the full length: fast FFT
    full = torch.fft.irfft(torch.fft.rfft(padded, size) * torch.fft.rfft(kernel, size), size)
    return full[2 * half:2 * half + n].clamp_min(0.0)


def convolve_gaussian(p: Array, x: Array, sigma: float) -> Array:
    """The density of X + N(0, sigma^2) when X has density ``p`` on the grid: p convolved with a Gaussian.

    sigma: noise standard deviation in the units of ``x`` (0 returns ``p``). Mass that the convolution
    pushes past the grid's ends is lost, so keep the grid wider than the data by several sigma.
    """
    p = _on_grid(p, x, "p")
    h = spacing(x)
    if sigma < 0 or not math.isfinite(sigma):
        raise ValueError(f"sigma must be a finite standard deviation >= 0, got {sigma}")
    return p.clone() if sigma == 0 else _gaussian_filter(p, h, sigma, reflect=False)


def silverman_bandwidth(samples: Array) -> float:
    """Silverman's rule of thumb 0.9 min(std, IQR / 1.34) n^(-1/5) for 1-D samples (n,)."""
    s = torch.as_tensor(samples, dtype=torch.float64).flatten()
    if s.numel() < 2:
        raise ValueError(f"a bandwidth needs at least 2 samples, got {s.numel()}")
    iqr = float(torch.quantile(s, 0.75) - torch.quantile(s, 0.25))
    spread = min(float(s.std()), iqr / 1.34) if iqr > 0 else float(s.std())
    if spread == 0:
        raise ValueError("all samples are equal: pass an explicit bandwidth")
    return 0.9 * spread * s.numel() ** -0.2


def kde(samples: Array, x: Array, bandwidth: float | None = None) -> Array:
    """Gaussian kernel density estimate of 1-D ``samples`` (n,) or (n, 1) on the grid ``x`` (G,) → (G,).

    Samples are linearly binned onto the grid (error O(h^2)) and the histogram is convolved with
    N(0, bandwidth^2) (default: Silverman's rule, which oversmooths multimodal samples: pass a bandwidth
    for those). Samples beyond the grid are clamped to its ends and the smoothing mirrors there, so the
    estimate integrates to 1 (up to O(h / bandwidth)): far-away generated mass stays counted, as mass where
    the target has none.
    """
    h = spacing(x)
    s = torch.as_tensor(samples, dtype=torch.float64).detach().cpu().flatten()
    if s.numel() == 0 or not bool(torch.isfinite(s).all()):
        raise ValueError("samples must be a non-empty set of finite numbers")
    bandwidth = silverman_bandwidth(s) if bandwidth is None else bandwidth
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    x = torch.as_tensor(x, dtype=torch.float64)
    pos = ((s - x[0]) / h).clamp(0, x.numel() - 1)
    left = pos.floor().long().clamp(max=x.numel() - 2)
    frac = pos - left
    counts = torch.zeros_like(x)
    counts.index_add_(0, left, 1 - frac)
    counts.index_add_(0, left + 1, frac)
    return _gaussian_filter(counts / (s.numel() * h), h, bandwidth, reflect=True)
