"""Importance weights of a VAE (notebook 03): the draws behind the importance-weighted (IWAE) bound.

The VAE itself is :class:`labutils.nets.MLPVAE`; its loss (the ELBO) is written in the notebook.
Shapes: images (N, 1, 28, 28) or (N, 784) in [0, 1]; log-probabilities in nats. The bound itself,
log (1/k) sum_j w_j over groups of k draws, is the notebook's exercise: no reference of it lives in labutils,
which student kernels import (the tests keep one, tests/fixtures/reference_answers.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributions import Normal

from labutils.nets import MLPVAE, flat_images


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
    x = flat_images(x, model.x_dim)
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
