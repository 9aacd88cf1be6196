"""Toy targets with exact densities: the ring of 8 Gaussians, the 5x5 grid, 1-D mixtures.

Every target is an isotropic Gaussian mixture: ``sample(n, generator)`` draws points and
``log_prob(x)`` gives the exact log-density, so divergences and optimal discriminators can be
computed exactly next to what a network learns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from labutils.exact.quadrature import gaussian_log_prob


class GaussianMixture:
    """Mixture of isotropic Gaussians in ``d`` dimensions.

    centers: (K, d) component means; stds: (K,) standard deviations; weights: (K,), summing to 1.
    """

    def __init__(self, centers: torch.Tensor, stds: torch.Tensor | float, weights: torch.Tensor | None = None):
        centers = torch.as_tensor(centers, dtype=torch.float64)
        if centers.ndim != 2 or centers.shape[0] < 1:
            raise ValueError(f"centers must have shape (K, d) with K >= 1, got {tuple(centers.shape)}")
        k = centers.shape[0]
        stds = torch.as_tensor(stds, dtype=torch.float64).expand(k).clone()
        weights = torch.full((k,), 1.0 / k, dtype=torch.float64) if weights is None else \
            torch.as_tensor(weights, dtype=torch.float64)
        if weights.shape != (k,) or (weights < 0).any() or not math.isclose(float(weights.sum()), 1.0, rel_tol=1e-9):
            raise ValueError(f"weights must be {k} non-negative numbers summing to 1, got {weights.tolist()}")
        if (stds <= 0).any():
            raise ValueError(f"standard deviations must be positive, got {stds.tolist()}")
        self.centers, self.stds, self.weights = centers, stds, weights

    @property
    def dim(self) -> int:
        return self.centers.shape[1]

    @property
    def n_modes(self) -> int:
        return self.centers.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None, *, with_modes: bool = False,
               device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        """Draw ``n`` points: (n, d) (and their component indices (n,) when ``with_modes``)."""
        modes = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        x = self.centers[modes] + self.stds[modes, None] * noise
        x = x.to(device=device, dtype=dtype)
        return (x, modes.to(device)) if with_modes else x

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density at x: (n, d) or, in 1-D, (n,) → (n,), float64."""
        x = torch.as_tensor(x, dtype=torch.float64).cpu()
        if self.dim == 1 and x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {tuple(x.shape)}")
        log_comp = gaussian_log_prob(x[:, None, :], self.centers[None], self.stds[None, :, None]).sum(-1)  # (n, K)
        return torch.logsumexp(log_comp + torch.log(self.weights), dim=1)

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob(x).exp()


def ring(n_modes: int = 8, radius: float = 2.0, std: float = 0.02) -> GaussianMixture:
    """The ring of Gaussians of the Unrolled-GAN/VEEGAN/PacGAN experiments (8 modes, radius 2, std 0.02)."""
    angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    return GaussianMixture(radius * torch.stack([angles.cos(), angles.sin()], 1), std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """The side x side grid of Gaussians (5x5 at -4..4, std 0.05, as in VEEGAN/PacGAN)."""
    ticks = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(ticks, ticks, indexing="ij")
    return GaussianMixture(torch.stack([gx.flatten(), gy.flatten()], 1), std)


def mixture_1d(weights: Sequence[float], means: Sequence[float], stds: Sequence[float]) -> GaussianMixture:
    """A 1-D Gaussian mixture; ``log_prob`` takes (n,) or (n, 1)."""
    if not len(weights) == len(means) == len(stds):
        raise ValueError(f"weights, means and stds must have one entry per component, got "
                         f"{len(weights)}, {len(means)}, {len(stds)}")
    return GaussianMixture(torch.tensor(means, dtype=torch.float64)[:, None], torch.tensor(stds, dtype=torch.float64),
                           torch.tensor(weights, dtype=torch.float64))
