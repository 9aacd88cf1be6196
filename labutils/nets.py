"""Small networks of the labs: MLPs, the autoencoder and VAE of 02/03, the critic bank of 07.

``layers(sizes)`` is the one MLP builder; ``mlp(d_in, d_out, width, depth)`` is its equal-width form
(06, 08). The models hold networks only: sampling (the reparameterization) and losses are written in
the notebooks, where they are the lesson.

Shapes: images are (N, 1, 28, 28) or already flat (N, 784), values in [0, 1]; codes are (N, z_dim).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn


def layers(sizes: Sequence[int], activation: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of the given sizes with ``activation()`` between consecutive ones (none after the last)."""
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layers needs at least two positive sizes, got {list(sizes)}")
    out: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        out.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            out.append(activation())
    return nn.Sequential(*out)


def mlp(d_in: int, d_out: int, width: int, depth: int, activation: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units: (B, d_in) -> (B, d_out); depth 0 is one linear map."""
    if min(d_in, d_out, width) < 1 or depth < 0:
        raise ValueError(f"mlp needs d_in, d_out, width >= 1 and depth >= 0, got {d_in}, {d_out}, {width}, {depth}")
    return layers([d_in, *[width] * depth, d_out], activation)


def flat_images(x: torch.Tensor, x_dim: int = 784) -> torch.Tensor:
    """(N, 1, H, W) or (N, x_dim) → (N, x_dim); ValueError on any other size."""
    flat = x.reshape(x.shape[0], -1) if x.dim() > 1 else x
    if flat.dim() != 2 or flat.shape[1] != x_dim:
        raise ValueError(f"expected images (N, 1, 28, 28) or (N, {x_dim}), got shape {tuple(x.shape)}")
    return flat


class MLPAutoencoder(nn.Module):
    """The lecture's autoencoder: 3 fully connected layers each way, ReLU, sigmoid output.

    encoder: x_dim → hidden[0] → hidden[1] → z_dim; decoder: the mirror image, z_dim → ... → x_dim.
    ``encode(x)``: images (N, 1, 28, 28) or (N, 784) → codes (N, z_dim);
    ``decode(z)``: codes (N, z_dim) → images (N, 1, 28, 28) in [0, 1]; ``forward`` = decode(encode(x)).
    """

    def __init__(self, z_dim: int = 32, hidden: Sequence[int] = (256, 64), x_dim: int = 784):
        super().__init__()
        if z_dim < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"z_dim and hidden sizes must be positive, got z_dim={z_dim}, hidden={tuple(hidden)}")
        self.x_dim, self.z_dim = x_dim, z_dim
        self.encoder = layers([x_dim, *hidden, z_dim])
        self.decoder = layers([z_dim, *reversed(hidden), x_dim])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(flat_images(x, self.x_dim))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        side = math.isqrt(self.x_dim)
        return torch.sigmoid(self.decoder(z)).view(-1, 1, side, side)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class MLPVAE(nn.Module):
    """The pytorch/examples VAE (784-400-20 by default): a Gaussian encoder and a decoder of logits.

    ``encode(x)``: images (N, 1, 28, 28) or (N, x_dim) → ``(mu, logvar)``, each (N, z_dim): the mean
    and log-variance of the diagonal Gaussian q(z|x). ``decode(z)``: (N, z_dim) → logits (N, x_dim),
    the parameters of p(x|z) (Bernoulli logits; ``sigmoid(logits)`` is the mean, also used as the
    mean of a Gaussian decoder). No ``forward``: drawing z from q(z|x) is left to the caller.
    """

    def __init__(self, z_dim: int = 20, hidden: int = 400, x_dim: int = 784):
        super().__init__()
        if z_dim < 1 or hidden < 1:
            raise ValueError(f"z_dim and hidden must be positive, got z_dim={z_dim}, hidden={hidden}")
        self.x_dim, self.z_dim = x_dim, z_dim
        self.encoder = nn.Sequential(nn.Linear(x_dim, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, z_dim)
        self.to_logvar = nn.Linear(hidden, z_dim)
        self.decoder = layers([z_dim, hidden, x_dim])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(flat_images(x, self.x_dim))
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def encoder_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters of q(z|x) (the encoder body and its two heads)."""
        for module in (self.encoder, self.to_mu, self.to_logvar):
            yield from module.parameters()


class CriticBank(nn.Module):
    """K independent critics R -> R evaluated together: v_k(x) = MLP_k(x) + a_k x + b_k x^2.

    Each MLP has two tanh hidden layers of ``hidden`` units (initialised like ``nn.Linear``); it
    shapes the log-ratio's bumps, while the quadratic skip (initialised at 0) follows its tails: the
    log-ratio of two Gaussian-tailed densities grows like x^2, and a tanh network is bounded. The K
    critics share no parameters; their weights are stacked (K, ...) and applied by batched matmuls.
    """

    def __init__(self, k: int, hidden: int, generator: torch.Generator | None = None):
        super().__init__()
        if k < 1 or hidden < 1:
            raise ValueError(f"need k >= 1 critics of hidden >= 1 units, got k={k}, hidden={hidden}")

        def uniform(*shape: int, fan_in: int) -> nn.Parameter:
            return nn.Parameter((torch.rand(*shape, generator=generator) * 2 - 1) / math.sqrt(fan_in))

        self.w1, self.b1 = uniform(k, 1, hidden, fan_in=1), uniform(k, 1, hidden, fan_in=1)
        self.w2, self.b2 = uniform(k, hidden, hidden, fan_in=hidden), uniform(k, 1, hidden, fan_in=hidden)
        self.w3, self.b3 = uniform(k, hidden, 1, fan_in=hidden), uniform(k, 1, 1, fan_in=hidden)
        self.quadratic = nn.Parameter(torch.zeros(k, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B,) points shared by all critics, or (K, B), one row per critic -> raw outputs v (K, B)."""
        k = self.w1.shape[0]
        if x.ndim == 1:
            x = x.expand(k, -1)
        if x.ndim != 2 or x.shape[0] != k:
            raise ValueError(f"x must have shape (B,) or ({k}, B), got {tuple(x.shape)}")
        h = torch.tanh(torch.baddbmm(self.b1, x[..., None], self.w1))
        h = torch.tanh(torch.baddbmm(self.b2, h, self.w2))
        v = torch.baddbmm(self.b3, h, self.w3)[..., 0]
        return v + self.quadratic[:, :1] * x + self.quadratic[:, 1:] * x**2
