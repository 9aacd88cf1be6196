"""The reference workload of the VAE benchmarks: pytorch/examples' VAE loss on labutils' MLPVAE."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from labutils.nets import MLPVAE, flat_images


def examples_loss(model: MLPVAE, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    """pytorch/examples' VAE loss on ``batch = (x,)``: BCE summed over pixels and batch + KL (a scalar, nats)."""
    x = flat_images(batch[0], model.x_dim)
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    bce = F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kl
