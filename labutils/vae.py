"""Fully connected autoencoders and VAEs, and the importance-weighted (IWAE) likelihood bound.

Shared by notebooks 02 (autoencoder) and 03 (VAE) and by the benchmarks. The models hold the
networks only: the sampling step (the reparameterization) and the training losses are written in
the notebooks, where they are the lesson. :func:`examples_loss` is the pytorch/examples VAE loss,
used by the benchmarks as the reference workload.

Shapes: images are (N, 1, 28, 28) or already flat (N, 784), values in [0, 1]; codes are (N, z_dim).
Log-probabilities are in nats.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal


def _flat(x: torch.Tensor, x_dim: int) -> torch.Tensor:
    """(N, 1, H, W) or (N, x_dim) → (N, x_dim); ValueError on any other size."""
    flat = x.reshape(x.shape[0], -1) if x.dim() > 1 else x
    if flat.dim() != 2 or flat.shape[1] != x_dim:
        raise ValueError(f"expected images (N, 1, 28, 28) or (N, {x_dim}), got shape {tuple(x.shape)}")
    return flat


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of the given sizes with a ReLU between consecutive layers (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


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
        self.encoder = _mlp([x_dim, *hidden, z_dim])
        self.decoder = _mlp([z_dim, *reversed(hidden), x_dim])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(_flat(x, self.x_dim))

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
        self.decoder = _mlp([z_dim, hidden, x_dim])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(_flat(x, self.x_dim))
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def encoder_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters of q(z|x) (the encoder body and its two heads)."""
        for module in (self.encoder, self.to_mu, self.to_logvar):
            yield from module.parameters()


def examples_loss(model: MLPVAE, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    """pytorch/examples' VAE loss on ``batch = (x,)``: BCE summed over pixels and batch + KL (a scalar, nats)."""
    x = _flat(batch[0], model.x_dim)
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    bce = F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kl


@torch.no_grad()
def log_importance_weights(model: MLPVAE, x: torch.Tensor, k: int, *, generator: torch.Generator | None = None,
                           max_rows: int = 65536) -> torch.Tensor:
    """log w_j = log p(x|z_j) + log p(z_j) - log q(z_j|x), z_j ~ q(z|x), for j = 1..k: a (k, N) tensor.

    p(x|z) is the Bernoulli with the decoder's logits (a normalised probability for binary pixels;
    for grey levels it is the usual cross-entropy, not a density), p(z) = N(0, I). ``generator``
    (a CPU generator) makes the draws reproducible on any device; examples are processed in chunks
    of at most ``max_rows`` decoded images.
    """
    if k < 1:
        raise ValueError(f"k must be a positive number of importance samples, got {k}")
    x = _flat(x, model.x_dim)
    if x.numel() and (float(x.min()) < 0 or float(x.max()) > 1):
        raise ValueError("pixel values must lie in [0, 1] for a Bernoulli decoder: divide by 255 or binarize")
    prior = Normal(torch.zeros((), device=x.device), torch.ones((), device=x.device))
    chunk = max(1, max_rows // k)
    out = []
    for xb in x.split(chunk):
        mu, logvar = model.encode(xb)
        q = Normal(mu, torch.exp(0.5 * logvar))
        eps = torch.randn((k, *mu.shape), generator=generator).to(mu.device)
        z = mu + q.scale * eps  # (k, B, z_dim)
        logits = model.decode(z.flatten(0, 1)).view(k, xb.shape[0], -1)
        log_px_z = -F.binary_cross_entropy_with_logits(logits, xb.expand_as(logits), reduction="none").sum(-1)
        out.append(log_px_z + prior.log_prob(z).sum(-1) - q.log_prob(z).sum(-1))
    return torch.cat(out, dim=1)


def iwae_bound(log_weights: torch.Tensor, k: int) -> torch.Tensor:
    """The k-sample importance-weighted bound per example, log (1/k) sum_j w_j, averaged over groups.

    log_weights: (K, N) from :func:`log_importance_weights`. The K draws are cut into floor(K / k)
    disjoint groups of k; each group gives one unbiased estimate of the bound and the estimates are
    averaged (a smaller Monte Carlo error than one group). ``k = 1`` is the Monte Carlo ELBO.
    Returns (N,) in nats; E[bound] <= log p(x) and it increases with k (Burda et al., 2016).
    """
    if log_weights.dim() != 2:
        raise ValueError(f"log_weights must be (K, N), got shape {tuple(log_weights.shape)}")
    total = log_weights.shape[0]
    if not 1 <= k <= total:
        raise ValueError(f"k must be between 1 and the number of draws K={total}, got {k}: draw more samples")
    groups = total // k
    grouped = log_weights[: groups * k].view(groups, k, -1)
    return (torch.logsumexp(grouped, dim=1) - math.log(k)).mean(0)
