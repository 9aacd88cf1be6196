"""Mode-coverage metrics for samples of a Gaussian mixture (the ring and grid of Unrolled GAN/VEEGAN/PacGAN).

The literature's protocol (Metz et al. 2017, Srivastava et al. 2017, Lin et al. 2018): draw
:data:`N_EVAL` = 2,500 samples from the generator and assign each one to its nearest mode centre.

- **high-quality sample**: within ``3 * std`` (Euclidean) of its nearest centre. Even the target
  itself scores below 100%: in d = 2 a Gaussian puts ``1 - exp(-9/2) = 98.9%`` of its mass there.
- **modes captured** (VEEGAN's rule): a mode counts if it is the nearest centre of at least one
  high-quality sample.
- **modes captured, strict**: a mode counts only if it holds at least ``min_share * N`` high-quality
  samples, a share of *all* N samples (default ``p_in / (4K)``, with ``p_in = P(chi^2_d <= 9)`` the
  target's own high-quality share: a quarter of the count a perfect generator puts on each mode;
  N = 2,500, K = 8: 77.3 samples). A handful of stray samples does not make a mode "covered", also
  when almost nothing is high quality (a share of the high-quality samples only would count one
  stray sample as a whole mode then).
- **KL to uniform**: with ``n_k`` the high-quality samples of mode k and ``p_k = n_k / sum_j n_j``,
  ``KL(p || u) = sum_k p_k log(K p_k)`` in nats (the "reverse KL" of PacGAN's tables). It is 0 for
  an even spread, ``log(K / m)`` for an even spread over m modes, ``log K`` for one mode. No smoothing
  is applied: empty modes contribute ``0 log 0 := 0``, so the value is finite and does not depend on
  a pseudo-count (the other direction, ``KL(u || p)``, is infinite for any missed mode and would need
  one). With no high-quality sample at all, nothing of the target is reached: it is ``log K``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from labutils.arrays import float64

N_EVAL = 2500
"""Samples per evaluation in the Unrolled-GAN/VEEGAN/PacGAN tables."""

QUALITY_RADIUS = 3.0
"""A sample is high-quality when within this many standard deviations of its nearest centre."""


def in_radius_share(dim: int) -> float:
    """P(||x - mu|| <= QUALITY_RADIUS std) for a d-dimensional isotropic Gaussian: the target's own HQ share.

    ``||x - mu||^2 / std^2`` is chi-square with d degrees of freedom; d = 2: ``1 - exp(-9/2) = 0.9889``.
    """
    return float(torch.special.gammainc(torch.tensor(dim / 2, dtype=torch.float64),
                                        torch.tensor(QUALITY_RADIUS**2 / 2, dtype=torch.float64)))


def mode_stats(samples: Any, centers: Any, std: float, *, min_share: float | None = None) -> dict[str, Any]:
    """Mode coverage and sample quality of ``samples`` against a mixture's ``centers``.

    samples: (N, d) generated points; centers: (K, d) mode centres, in the same units; std: the
    mixture components' standard deviation (one number > 0: a float, or a 0-d tensor); min_share: fraction of
    *all* N samples that a mode needs as high-quality samples for the strict count (default
    ``in_radius_share(d) / (4K)``).

    Returns a dict:
      ``n_samples`` N, ``n_centers`` K;
      ``high_quality`` percentage (0-100) of samples within 3 std of their nearest centre;
      ``modes`` modes with at least one high-quality sample (VEEGAN's rule), an int in 0..K;
      ``modes_strict`` modes holding at least ``min_share * N`` high-quality samples (and at least one);
      ``min_share`` the share used; ``counts`` high-quality samples per mode (list of K ints);
      ``missed`` indices of the modes with no high-quality sample;
      ``kl_uniform`` KL(p || uniform) of the high-quality mode histogram, in nats (module docstring).
    """
    x, c, std_in = float64(samples, "samples"), float64(centers, "centers"), std
    if c.ndim != 2 or c.shape[0] < 1:
        raise ValueError(f"centers must have shape (K, d) with K >= 1, got {tuple(c.shape)}")
    if x.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"samples must have shape (N, {c.shape[1]}) like the centers, got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("samples is empty: pass at least one point (the literature uses N_EVAL = 2500)")
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x).all(dim=1)).sum())
        raise ValueError(f"{bad} of {x.shape[0]} samples are NaN or infinite: the generator diverged, "
                         "check its training before measuring modes")
    try:  # a float, or a 0-d tensor / NumPy scalar such as toy.ring().stds[0]; not a string
        std = math.nan if isinstance(std, (str, bytes)) else float(std)
    except (TypeError, ValueError, RuntimeError):
        std = math.nan
    if not (math.isfinite(std) and std > 0):
        raise ValueError(f"std must be one positive number (the components' standard deviation), got {std_in!r}")
    k = c.shape[0]
    share = in_radius_share(c.shape[1]) / (4 * k) if min_share is None else min_share
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"min_share must be a fraction in [0, 1], got {min_share!r}")

    dist, nearest = torch.cdist(x, c).min(dim=1)  # (N,), (N,)
    good = dist <= QUALITY_RADIUS * std
    counts = torch.bincount(nearest[good], minlength=k)  # (K,)
    n_good = int(counts.sum())
    if n_good:
        p = counts.double() / n_good
        kl = float(torch.where(p > 0, p * torch.log(k * p), torch.zeros_like(p)).sum())
        strict = int((counts >= max(share * x.shape[0], 1)).sum())
    else:
        kl, strict = math.log(k), 0
    return {
        "n_samples": int(x.shape[0]),
        "n_centers": k,
        "high_quality": 100.0 * n_good / x.shape[0],
        "modes": int((counts > 0).sum()),
        "modes_strict": strict,
        "min_share": share,
        "counts": counts.tolist(),
        "missed": torch.nonzero(counts == 0).flatten().tolist(),
        "kl_uniform": max(kl, 0.0),
    }
