import math

import pytest
import torch

from labutils import losses, nets, toy


def _sig(x):
    return 1 / (1 + math.exp(-x))


def test_gan_losses_against_hand_computed_values():
    # asymmetric logits: with fake = (-a, a) a sign flip of the fake term would give the same mean
    real, fake = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 3.0])
    d_expected = -(math.log(_sig(0)) + math.log(_sig(2))) / 2 - (math.log(1 - _sig(-1)) + math.log(1 - _sig(3))) / 2
    assert losses.d_loss_minimax(real, fake).item() == pytest.approx(d_expected, rel=1e-6)
    assert losses.g_loss_minimax(fake).item() == pytest.approx(
        (math.log(1 - _sig(-1)) + math.log(1 - _sig(3))) / 2, rel=1e-6)
    assert losses.g_loss_nonsaturating(fake).item() == pytest.approx(
        -(math.log(_sig(-1)) + math.log(_sig(3))) / 2, rel=1e-6)
    assert losses.d_loss_wasserstein(real, fake).item() == pytest.approx(1.0 - 1.0)
    assert losses.g_loss_wasserstein(fake).item() == pytest.approx(-1.0)
    assert losses.d_loss_hinge(real, fake).item() == pytest.approx((1 + 0) / 2 + (0 + 4) / 2)
    assert losses.g_loss_hinge(fake).item() == pytest.approx(-1.0)
    # the fit_gan pair calls the network and applies the same losses
    D = lambda x: x  # noqa: E731 - an identity "discriminator" on logits
    assert losses.gan_d_loss(D, real, fake).item() == pytest.approx(d_expected, rel=1e-6)
    assert losses.gan_g_loss(D, fake).item() == pytest.approx(losses.g_loss_nonsaturating(fake).item())


def test_losses_are_finite_and_have_gradients_at_extreme_logits():
    logits = torch.tensor([-200.0, 200.0], requires_grad=True)
    for value in (losses.d_loss_minimax(logits, logits), losses.g_loss_minimax(logits),
                  losses.g_loss_nonsaturating(logits)):
        (grad,) = torch.autograd.grad(value, logits)
        assert torch.isfinite(value) and torch.isfinite(grad).all()
    # the saturation the lecture describes: with D(G(z)) ~ 0, log(1 - D) has ~no gradient, -log D has a full one
    rejected = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(losses.g_loss_minimax(rejected), rejected)
    (g_ns,) = torch.autograd.grad(losses.g_loss_nonsaturating(rejected), rejected)
    assert abs(g_mm.item()) < 1e-4 and abs(g_ns.item()) > 0.99


def test_gradient_penalty_zero_for_unit_lipschitz_linear_critic():
    w = torch.tensor([0.6, 0.8])
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert losses.gradient_penalty(lambda x: x @ w, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert losses.gradient_penalty(lambda x: x @ (3 * w), real, fake).item() == pytest.approx(4.0, rel=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        losses.gradient_penalty(lambda x: x @ w, real, fake[:3])


def test_toy_targets_geometry_and_sampling():
    r = toy.ring()
    assert r.n_modes == 8 and torch.allclose(r.centers.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    g = toy.grid()
    assert g.n_modes == 25 and g.centers.min() == -4 and g.centers.max() == 4
    x, modes = r.sample(4000, torch.Generator().manual_seed(0), with_modes=True)
    dist = (x.double() - r.centers[modes]).norm(dim=1)
    # radial distance of a 2-D Gaussian: E|e| = std * sqrt(pi/2)
    assert dist.mean().item() == pytest.approx(0.02 * math.sqrt(math.pi / 2), rel=0.05)
    counts = torch.bincount(modes, minlength=8).double()
    se = math.sqrt(4000 * (1 / 8) * (7 / 8))
    assert ((counts - 500).abs() < 4 * se).all()


def test_toy_log_prob_is_a_normalised_density():
    m = toy.mixture_1d([0.3, 0.7], [-2.0, 1.0], [0.5, 1.5])
    grid = torch.linspace(-12, 12, 20001, dtype=torch.float64)
    assert torch.trapezoid(m.prob(grid), grid).item() == pytest.approx(1.0, abs=1e-8)
    direct = 0.3 * torch.distributions.Normal(-2.0, 0.5).log_prob(grid).exp() + \
        0.7 * torch.distributions.Normal(1.0, 1.5).log_prob(grid).exp()
    assert torch.allclose(m.prob(grid), direct.double(), rtol=1e-6)
    r = toy.ring()
    area = torch.linspace(-3, 3, 601, dtype=torch.float64)
    xx, yy = torch.meshgrid(area, area, indexing="ij")
    dens = r.prob(torch.stack([xx.flatten(), yy.flatten()], 1)).reshape(601, 601)
    assert torch.trapezoid(torch.trapezoid(dens, area), area).item() == pytest.approx(1.0, abs=1e-3)


def test_mixture_1d_keeps_its_parameters_exactly():
    """0.7 is not a float32 number: a float32 detour would store 0.699999988 and move every density."""
    m = toy.mixture_1d([0.3, 0.7], [-2.1, 1.3], [0.7, 0.3])
    assert m.stds.tolist() == [0.7, 0.3] and m.weights.tolist() == [0.3, 0.7]
    assert m.centers[:, 0].tolist() == [-2.1, 1.3]


def test_toy_bad_input():
    with pytest.raises(ValueError, match="summing to 1"):
        toy.mixture_1d([0.5, 0.6], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="one entry per component"):
        toy.mixture_1d([1.0], [0, 1], [1])
    with pytest.raises(ValueError, match="must be positive"):
        toy.mixture_1d([1.0], [0.0], [0.0])
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        toy.ring().log_prob(torch.zeros(3, 3))


def test_mlp_shapes_and_layers():
    net = nets.mlp(3, 2, width=8, depth=2)
    assert net(torch.zeros(5, 3)).shape == (5, 2)
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert [type(m).__name__ for m in nets.mlp(3, 1, 8, 0)] == ["Linear"]
    with pytest.raises(ValueError, match="depth >= 0"):
        nets.mlp(3, 1, 8, -1)
