"""The Wasserstein losses and the WGAN-GP gradient penalty of labutils.losses, on critics with known answers."""

from __future__ import annotations

import pytest
import torch

from labutils import losses
from labutils.exact import transport


def linear_critic(w: torch.Tensor):
    """f(x) = <w, x.flatten()>: its gradient is w everywhere, so it is exactly ||w||-Lipschitz."""
    return lambda x: x.flatten(1) @ w


def samples(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def test_critic_loss_is_minus_the_mean_score_gap():
    real, fake = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, -0.5])
    assert float(losses.d_loss_wasserstein(real, fake)) == pytest.approx(0.0 - 2.0)
    assert float(losses.g_loss_wasserstein(fake)) == pytest.approx(0.0)
    assert float(losses.g_loss_wasserstein(real)) == pytest.approx(-2.0)


def test_minus_critic_loss_of_a_unit_critic_bounds_w_from_below_and_is_tight_along_the_shift():
    real = samples(64, 2, seed=0)
    fake = real + torch.tensor([0.6, 0.8], dtype=torch.float64)  # a translation by a unit vector: W1 = 1
    w_exact = transport.wasserstein_exact(real, fake)
    along, across = torch.tensor([-0.6, -0.8], dtype=torch.float64), torch.tensor([0.8, -0.6], dtype=torch.float64)
    gap_along = -float(losses.d_loss_wasserstein(linear_critic(along)(real), linear_critic(along)(fake)))
    gap_across = -float(losses.d_loss_wasserstein(linear_critic(across)(real), linear_critic(across)(fake)))
    assert w_exact == pytest.approx(1.0, abs=1e-9)
    assert gap_along == pytest.approx(w_exact, abs=1e-9)
    assert abs(gap_across) <= w_exact


@pytest.mark.parametrize("shape", [(32, 2), (16, 1, 4, 4)])
def test_gradient_penalty_is_zero_for_a_unit_lipschitz_critic(shape):
    real, fake = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64) + 1
    d = real[0].numel()
    w = torch.randn(d, dtype=torch.float64)
    penalty = losses.gradient_penalty(linear_critic(w / w.norm()), real, fake, torch.Generator().manual_seed(0))
    assert float(penalty) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("scale", [0.1, 0.5, 2.0, 10.0])
def test_gradient_penalty_of_a_linear_critic_is_the_squared_norm_gap(scale):
    real, fake = samples(32, 3, seed=1), samples(32, 3, seed=2, shift=1.0)
    w = torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64) / 3 * scale  # ||w|| = scale
    penalty = losses.gradient_penalty(linear_critic(w), real, fake, torch.Generator().manual_seed(0))
    assert float(penalty) == pytest.approx((scale - 1) ** 2, rel=1e-9)


def test_gradient_penalty_is_positive_for_a_nonlinear_critic_and_trains_the_critic():
    real, fake = samples(32, 2, seed=3), samples(32, 2, seed=4, shift=2.0)
    critic = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()
    penalty = losses.gradient_penalty(lambda x: critic(x).squeeze(1), real, fake, torch.Generator().manual_seed(0))
    assert float(penalty.detach()) > 0
    penalty.backward()  # create_graph=True: the penalty is differentiable in the critic's weights
    weights = [critic[0].weight, critic[0].bias, critic[2].weight]  # the output bias does not move grad f
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in weights)


def test_gradient_penalty_gradient_pulls_the_norm_towards_one():
    real, fake = samples(16, 2, seed=5), samples(16, 2, seed=6)
    for scale, sign in ((3.0, 1.0), (0.2, -1.0)):
        w = torch.tensor([scale, 0.0], dtype=torch.float64, requires_grad=True)
        losses.gradient_penalty(linear_critic(w), real, fake, torch.Generator().manual_seed(0)).backward()
        # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||: descent shrinks a large w and grows a small one.
        assert float(w.grad[0]) == pytest.approx(sign * 2 * abs(scale - 1), rel=1e-9)


def test_gradient_penalty_is_reproducible_with_a_generator_and_checks_shapes():
    real, fake = samples(8, 2, seed=7), samples(8, 2, seed=8)
    critic = lambda x: (x**2).sum(1)
    first = losses.gradient_penalty(critic, real, fake, torch.Generator().manual_seed(3))
    again = losses.gradient_penalty(critic, real, fake, torch.Generator().manual_seed(3))
    assert float(first.detach()) == float(again.detach())
    with pytest.raises(ValueError, match="same shape"):
        losses.gradient_penalty(critic, real, fake[:4])
