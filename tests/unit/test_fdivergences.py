"""labutils.exact.fdivergences: generators, conjugates, activations, quadrature, the Gaussian fits, the critic bank."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import optimize, special

from labutils import nets, toy
from labutils.exact import fdivergences as dv
from labutils.exact import quadrature

GRID = quadrature.grid(-30.0, 30.0, 12001)
RNG = np.random.default_rng(0)
RATIOS = torch.tensor(np.exp(RNG.uniform(-4, 4, 12)), dtype=torch.float64)  # density ratios in (0.02, 55)


def gauss(mu: float, sigma: float):
    return lambda x: quadrature.gaussian_log_prob(x, mu, sigma)


def kl_gauss(m1: float, s1: float, m2: float, s2: float) -> float:
    """KL(N(m1, s1^2) || N(m2, s2^2)), closed form."""
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


@pytest.mark.parametrize("name", dv.NAMES)
def test_generator_vanishes_at_one_and_is_convex(name):
    div = dv.get(name)
    assert abs(float(div.generator(torch.tensor([1.0]))[0])) < 1e-15
    a, b = RATIOS[:6], RATIOS[6:]
    for lam in (0.2, 0.5, 0.9):  # Jensen: f(lam a + (1-lam) b) <= lam f(a) + (1-lam) f(b)
        lhs = div.f(lam * a + (1 - lam) * b)
        rhs = lam * div.f(a) + (1 - lam) * div.f(b)
        assert bool((lhs <= rhs + 1e-12).all()), (name, lam, (lhs - rhs).max())
    # strictly convex: D_f(P||Q) > 0 for P != Q, so the second difference is positive
    h = 1e-3
    second = div.f(RATIOS + h) - 2 * div.f(RATIOS) + div.f(RATIOS - h)  # every ratio here exceeds h
    assert bool((second > 0).all()), name


@pytest.mark.parametrize("name", dv.NAMES)
def test_fenchel_identity_f_is_the_sup_over_t(name):
    """f(u) = sup_t (t u - f*(t)): maximise numerically over f*'s domain at random ratios u."""
    div = dv.get(name)
    lo, hi = div.domain
    for u in RATIOS.tolist():
        def negative(t: float, u: float = u) -> float:
            return -(t * u - float(div.conjugate(torch.tensor([t], dtype=torch.float64))[0]))

        guess = float(div.optimal_critic(torch.tensor([math.log(u)], dtype=torch.float64))[0])
        a, b = max(lo + 1e-9, guess - 5), min(hi - 1e-12, guess + 5)
        res = optimize.minimize_scalar(negative, bounds=(a, b), method="bounded", options={"xatol": 1e-10})
        assert -res.fun == pytest.approx(float(div.f(torch.tensor(u, dtype=torch.float64))), abs=1e-7), (name, u)


@pytest.mark.parametrize("name", dv.NAMES)
def test_conjugate_is_the_sup_over_u(name):
    """f*(t) = sup_{u >= 0} (t u - f(u)) at points inside the domain, +inf outside it."""
    div = dv.get(name)
    ts = div.optimal_critic(torch.tensor(RNG.uniform(-3, 3, 6), dtype=torch.float64))  # t = f'(u) for u in range
    for t in ts.tolist():
        expected = dv.conjugate_numerically(div.f, t)
        assert float(div.conjugate(torch.tensor([t], dtype=torch.float64))[0]) == pytest.approx(expected, abs=1e-7)
    if math.isfinite(div.domain[1]):
        outside = torch.tensor([div.domain[1], div.domain[1] + 1.0], dtype=torch.float64)
        assert bool(torch.isinf(div.conjugate(outside)).all()), name


@pytest.mark.parametrize("name", dv.NAMES)
def test_activation_lands_in_the_domain_and_fused_conjugate_matches(name):
    div = dv.get(name)
    v = torch.linspace(-8, 8, 101, dtype=torch.float64)
    t = div.activation(v)
    assert bool(((t > div.domain[0]) & (t < div.domain[1])).all()), name
    assert torch.allclose(div.conjugate_of_activation(v), div.conjugate(t), rtol=1e-9, atol=1e-9), name
    big = div.conjugate_of_activation(torch.tensor([40.0, -40.0]))  # float32, far out: no NaN
    assert not bool(torch.isnan(big).any()), name


def test_jeffrey_conjugate_matches_lambert_w_and_its_gradient_is_the_argmax():
    t = torch.tensor(RNG.uniform(-30, 30, 50), dtype=torch.float64, requires_grad=True)
    w = special.lambertw(np.exp(1 - t.detach().numpy())).real
    assert np.allclose(dv.jeffrey_argmax(t).detach().numpy(), 1 / w, rtol=1e-10)
    value = dv.get("jeffrey").conjugate(t)
    assert np.allclose(value.detach().numpy(), w + 1 / w + t.detach().numpy() - 2, rtol=1e-9, atol=1e-9)
    (grad,) = torch.autograd.grad(value.sum(), t)
    assert torch.allclose(grad, dv.jeffrey_argmax(t), rtol=1e-10)  # Danskin: d f*/dt = argmax u*


@pytest.mark.parametrize("m1,s1,m2,s2", [(0.0, 1.0, 0.0, 1.0), (0.3, 0.7, -1.0, 1.5), (2.0, 2.0, 0.0, 0.5)])
def test_quadrature_matches_gaussian_closed_forms(m1, s1, m2, s2):
    p, q = gauss(m1, s1), gauss(m2, s2)
    kl, rkl = kl_gauss(m1, s1, m2, s2), kl_gauss(m2, s2, m1, s1)
    assert dv.divergence("kl", p, q, GRID) == pytest.approx(kl, abs=1e-10)
    assert dv.divergence("reverse_kl", p, q, GRID) == pytest.approx(rkl, abs=1e-10)
    assert dv.divergence("jeffrey", p, q, GRID) == pytest.approx(kl + rkl, abs=1e-10)
    bc = math.sqrt(2 * s1 * s2 / (s1**2 + s2**2)) * math.exp(-((m1 - m2) ** 2) / (4 * (s1**2 + s2**2)))
    assert dv.divergence("hellinger", p, q, GRID) == pytest.approx(2 - 2 * bc, abs=1e-10)
    if s1**2 < 2 * s2**2:  # Pearson chi^2 is finite only then
        chi2 = s2**2 / (s1 * math.sqrt(2 * s2**2 - s1**2)) * math.exp((m1 - m2) ** 2 / (2 * s2**2 - s1**2)) - 1
        assert dv.divergence("pearson", p, q, GRID) == pytest.approx(chi2, rel=1e-9, abs=1e-10)
    else:
        assert dv.divergence("pearson", p, q, GRID) == math.inf
    js = dv.divergence("js", p, q, GRID)
    assert 0 <= js <= math.log(2) and js == pytest.approx(dv.divergence("js", q, p, GRID), abs=1e-12)


def test_quadrature_is_stable_in_far_tails():
    """Means 30 apart: p/q reaches e^450 on the grid; the log-space integrands do not overflow."""
    grid = quadrature.grid(-20.0, 50.0, 14001)
    assert dv.divergence("kl", gauss(0, 1), gauss(30, 1), grid) == pytest.approx(450.0, rel=1e-10)
    assert dv.divergence("js", gauss(0, 1), gauss(30, 1), grid) == pytest.approx(math.log(2), abs=1e-12)
    assert dv.divergence("hellinger", gauss(0, 1), gauss(30, 1), grid) == pytest.approx(2.0, abs=1e-12)


@pytest.mark.parametrize("name", dv.NAMES)
def test_variational_bound_is_tight_at_the_optimal_critic_and_below_elsewhere(name):
    p, q, grid = gauss(0.5, 0.8), gauss(0.0, 1.0), quadrature.grid(-12, 12, 6001)
    exact = dv.divergence(name, p, q, grid)
    best = dv.get(name).optimal_critic(p(grid) - q(grid))
    assert dv.bound_by_quadrature(name, best, p, q, grid) == pytest.approx(exact, abs=1e-9)
    for scale in (0.5, 0.9):  # a perturbed critic, kept inside f*'s domain, gives less
        worse = dv.get(name).activation(scale * torch.linspace(-1, 1, grid.numel(), dtype=torch.float64))
        assert dv.bound_by_quadrature(name, worse, p, q, grid) < exact
    raw = torch.linspace(-40, 40, grid.numel(), dtype=torch.float64)  # g_f(v) rounds onto the domain's edge
    assert math.isfinite(dv.bound_by_quadrature(name, raw, p, q, grid, raw=True))


def test_kl_fit_of_a_mixture_is_moment_matching():
    mix = toy.mixture_1d([0.7, 0.3], [-1.0, 2.0], [0.8, 0.4])
    mean = 0.7 * -1.0 + 0.3 * 2.0
    var = 0.7 * (0.8**2 + 1.0) + 0.3 * (0.4**2 + 4.0) - mean**2
    grid = quadrature.grid(-15, 15, 6001)
    fit = dv.fit_gaussian("kl", mix.log_prob, grid, [(0.0, 1.0)])
    assert fit.mu == pytest.approx(mean, abs=1e-4) and fit.sigma == pytest.approx(math.sqrt(var), abs=1e-4)


def test_reverse_kl_fit_needs_the_right_start():
    """Reverse KL has a local minimum at each mode: multi-start finds the heavier one."""
    mix = toy.mixture_1d([0.7, 0.3], [-2.0, 2.0], [0.5, 0.5])
    grid = quadrature.grid(-12, 12, 6001)
    light = dv.fit_gaussian("reverse_kl", mix.log_prob, grid, [(2.0, 0.5)])
    both = dv.fit_gaussian("reverse_kl", mix.log_prob, grid, [(2.0, 0.5), (-2.0, 0.5)])
    assert light.mu == pytest.approx(2.0, abs=0.05) and both.mu == pytest.approx(-2.0, abs=0.05)
    assert both.value == pytest.approx(-math.log(0.7), abs=0.01) and both.value < light.value


def test_critic_bank_shapes_and_independence():
    bank = nets.CriticBank(3, 8, torch.Generator().manual_seed(0))
    x = torch.randn(5)
    assert bank(x).shape == (3, 5) and bank(torch.randn(3, 5)).shape == (3, 5)
    bank(x)[1].sum().backward()
    grads = [p.grad for p in bank.parameters()]
    assert all(float(g[0].abs().sum()) == 0 and float(g[2].abs().sum()) == 0 for g in grads)
    assert float(bank.w1.grad[1].abs().sum()) > 0


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="unknown f-divergence 'kll'.*reverse_kl"):
        dv.get("kll")
    with pytest.raises(ValueError, match="density ratios u >= 0"):
        dv.get("kl").generator(torch.tensor([-0.5, 1.0]))
    with pytest.raises(ValueError, match="sigma must be positive"):
        quadrature.gaussian_log_prob(torch.zeros(3), 0.0, 0.0)
    with pytest.raises(ValueError, match="lo < hi"):
        quadrature.grid(1.0, -1.0)
    with pytest.raises(ValueError, match="equally spaced"):
        dv.divergence("kl", gauss(0, 1), gauss(0, 1), torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="log_q must map the grid"):
        dv.divergence("kl", gauss(0, 1), lambda x: x[:-1], GRID)
    with pytest.raises(ValueError, match="log_p returned NaN"):
        dv.divergence("kl", lambda x: torch.full_like(x, math.nan), gauss(0, 1), GRID)
    with pytest.raises(ValueError, match="one value per grid point"):
        dv.bound_by_quadrature("kl", torch.zeros(4), gauss(0, 1), gauss(0, 1), GRID)
    with pytest.raises(ValueError, match="starts must be a non-empty list"):
        dv.fit_gaussian("kl", gauss(0, 1), GRID, [(0.0, -1.0)])
    with pytest.raises(ValueError, match="x must have shape"):
        nets.CriticBank(2, 4)(torch.zeros(3, 4))
