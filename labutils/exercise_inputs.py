"""Inputs that exercise checks draw from their seed: small, fixed architectures, never a reference answer.

A check's INPUTS section (docs/GRADING.md) runs both in the student's kernel and in the grader, so what it
builds must come out the same from the same seed in both; these builders do, on the CPU, in float32.
"""

from __future__ import annotations

import torch
from torch import nn


def tiny_gan(seed: int, *, lr: float = 0.1, d_bias: float = -2.5):
    """(G, D, opt_g, opt_d): G 3 -> 8 -> 5 (tanh hidden), D 5 -> 8 -> logit of shape (B,), plain SGD at ``lr``.

    Weights are N(0, 0.5^2) from ``seed``; D's last bias is ``d_bias`` (-2.5: D(x) about 0.08, where the
    saturating cost log(1 - D) and the non-saturating -log D give gradients an order of magnitude apart).
    Plain SGD keeps each update proportional to its gradient, so a wrong gradient shows in the parameters.
    """
    g = torch.Generator().manual_seed(seed)
    G = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 5))
    D = nn.Sequential(nn.Linear(5, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1), nn.Flatten(0))
    with torch.no_grad():
        for p in [*G.parameters(), *D.parameters()]:
            p.copy_(0.5 * torch.randn(p.shape, generator=g))
        D[2].bias.fill_(d_bias)
    return G, D, torch.optim.SGD(G.parameters(), lr=lr), torch.optim.SGD(D.parameters(), lr=lr)


def gan_batches(seed: int, k: int, m: int = 16):
    """One iteration's data: (k real minibatches (m, 5) around 1, k noise minibatches (m, 3), one noise (m, 3))."""
    g = torch.Generator().manual_seed(seed)
    real = list(1.0 + 0.5 * torch.randn(k, m, 5, generator=g))
    return real, list(torch.randn(k, m, 3, generator=g)), torch.randn(m, 3, generator=g)


def snapshot(*nets: nn.Module) -> list[dict[str, torch.Tensor]]:
    """A copy of each network's ``state_dict()`` (the live one changes with the next update)."""
    return [{name: t.detach().clone() for name, t in net.state_dict().items()} for net in nets]
