"""GAN-family losses, written on logits (the discriminator's pre-sigmoid output) for stability.

With D(x) = sigmoid(l(x)): log D = -softplus(-l) and log(1 - D) = -softplus(l), both finite for
any logit. Every function returns a scalar to *minimise*; shapes: logits (B,) or (B, 1).

:func:`gan_d_loss` and :func:`gan_g_loss` are the pair that ``train.fit_gan`` takes for the standard
GAN (minimax discriminator, non-saturating generator): they call the networks, the rest takes logits.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def d_loss_minimax(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-V(G, D) = -E[log D(x)] - E[log(1 - D(G(z)))]: the discriminator's cross-entropy."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """E[log(1 - D(G(z)))]: the generator's term of V, saturating when D rejects fakes."""
    return -F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(G(z))]: the generator cost real implementations use (strong gradients early)."""
    return F.softplus(-fake_logits).mean()


def d_loss_wasserstein(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Critic loss E[f(G(z))] - E[f(x)]: minus the Kantorovich-Rubinstein estimate of W."""
    return fake_scores.mean() - real_scores.mean()


def g_loss_wasserstein(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator loss -E[f(G(z))]."""
    return -fake_scores.mean()


def d_loss_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss E[max(0, 1 - l(x))] + E[max(0, 1 + l(G(z)))]."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_loss_hinge(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss -E[l(G(z))]."""
    return -fake_logits.mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP penalty E[(||grad f(x_hat)||_2 - 1)^2] at random points x_hat between real and fake.

    real, fake: (B, ...) of equal shape. The mixing weights come from ``generator`` when given.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    alpha = torch.rand(shape, generator=generator, device="cpu").to(real.device, real.dtype)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def gan_d_loss(D: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``fit_gan``'s d_loss for the standard GAN: -V' = softplus(-l(x)) + softplus(l(G(z))), averaged."""
    return d_loss_minimax(D(real), D(fake))


def gan_g_loss(D: Callable[[torch.Tensor], torch.Tensor], fake: torch.Tensor) -> torch.Tensor:
    """``fit_gan``'s g_loss for the standard GAN: the non-saturating cost -E[log D(G(z))]."""
    return g_loss_nonsaturating(D(fake))
