"""labutils.quadrature against closed forms: Gaussian KL and entropy, disjoint JSD, Gaussian convolution, KDE."""

from __future__ import annotations

import math

import pytest
import torch

from labutils import toy
from labutils.exact import quadrature as q

X = q.grid(-12.0, 12.0, 4801)


def normal(mean: float, std: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((X - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def uniform(lo: float, hi: float) -> torch.Tensor:
    """U(lo, hi) on the grid, normalised by the trapezoid rule (the jumps would otherwise cost O(h) of mass)."""
    inside = ((X >= lo) & (X <= hi)).double()
    return inside / q.integrate(inside, X)


def test_entropy_and_kl_of_gaussians_match_closed_forms():
    # H(N(m, s^2)) = log(s sqrt(2 pi e)); KL(N0 || N1) = log(s1/s0) + (s0^2 + (m0-m1)^2) / (2 s1^2) - 1/2
    assert q.mass(normal(0.3, 0.7), X) == pytest.approx(1.0, abs=1e-12)
    assert q.entropy(normal(0.3, 0.7), X) == pytest.approx(math.log(0.7 * math.sqrt(2 * math.pi * math.e)), abs=1e-10)
    expected = math.log(2.0 / 0.5) + (0.5**2 + 1.5**2) / (2 * 2.0**2) - 0.5
    assert q.kl_divergence(normal(0.0, 0.5), normal(1.5, 2.0), X) == pytest.approx(expected, abs=1e-10)
    assert q.kl_divergence(normal(1.0, 1.0), normal(1.0, 1.0), X) == pytest.approx(0.0, abs=1e-14)


def test_kl_is_cross_entropy_minus_entropy():
    p, r = normal(-1.0, 0.4), normal(0.5, 1.3)
    assert q.kl_divergence(p, r, X) == pytest.approx(q.cross_entropy(p, r, X) - q.entropy(p, X), abs=1e-12)


def test_kl_is_infinite_when_q_misses_mass_of_p():
    assert q.kl_divergence(uniform(0, 2), uniform(0, 1), X) == math.inf
    assert q.cross_entropy(uniform(0, 2), uniform(0, 1), X) == math.inf
    assert math.isfinite(q.kl_divergence(uniform(0, 1), uniform(-1, 3), X))


def test_jsd_is_symmetric_bounded_and_log2_for_disjoint_supports():
    p, r = normal(0.0, 1.0), normal(1.0, 0.5)
    jsd = q.js_divergence(p, r, X)
    assert 0.0 < jsd < math.log(2)
    assert q.js_divergence(r, p, X) == pytest.approx(jsd, abs=1e-14)
    assert q.js_divergence(p, p, X) == pytest.approx(0.0, abs=1e-14)
    assert q.js_divergence(uniform(0, 1), uniform(3, 4), X) == pytest.approx(math.log(2), abs=1e-12)


def test_jsd_of_half_overlapping_uniforms():
    # U(0,1) vs U(0.5,1.5): half of each mass is shared (m = p = q there), half is disjoint: JSD = log(2) / 2.
    # The jumps cost O(h) in the trapezoid rule.
    h = q.spacing(X)
    assert q.js_divergence(uniform(0, 1), uniform(0.5, 1.5), X) == pytest.approx(math.log(2) / 2, abs=2 * h)
    assert q.js_divergence(uniform(0, 1), uniform(0.25, 1.25), X) == pytest.approx(math.log(2) / 4, abs=2 * h)


def test_convolving_gaussians_adds_variances():
    smoothed = q.convolve_gaussian(normal(0.5, 0.3), X, 0.4)
    assert q.kl_divergence(smoothed, normal(0.5, 0.5), X) == pytest.approx(0.0, abs=1e-10)
    assert torch.equal(q.convolve_gaussian(normal(0.0, 1.0), X, 0.0), normal(0.0, 1.0))


def test_kde_converges_to_the_sampled_density():
    target = toy.mixture_1d([0.3, 0.7], [-2.0, 1.0], [0.3, 0.8])
    gen = torch.Generator().manual_seed(0)
    jsd = {n: q.js_divergence(q.kde(target.sample(n, gen), X), target.prob(X), X) for n in (1000, 16000)}
    # JSD ~ squared error / 8 shrinks like n^(-4/5) (16^0.8 = 9 for 16x the samples); Silverman's rule
    # oversmooths two modes, which adds bias, so ask for a third of that
    assert jsd[16000] < jsd[1000] / 3


def test_kde_keeps_the_mass_of_samples_outside_the_grid():
    far = torch.full((50,), 100.0)
    density = q.kde(far, X, bandwidth=0.5)
    assert q.mass(density, X) == pytest.approx(1.0, abs=q.spacing(X) / 0.5)
    assert float(density[X < 0].max()) < 1e-12  # nothing leaks to the far side beyond FFT round-off


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="lo < hi"):
        q.grid(1.0, 0.0)
    with pytest.raises(ValueError, match="equally spaced"):
        q.integrate(torch.ones(3), torch.tensor([0.0, 1.0, 3.0]))
    with pytest.raises(ValueError, match="one value per grid point"):
        q.kl_divergence(torch.ones(5), normal(0, 1), X)
    with pytest.raises(ValueError, match="non-negative"):
        q.entropy(-normal(0, 1), X)
    with pytest.raises(ValueError, match="sigma"):
        q.convolve_gaussian(normal(0, 1), X, -1.0)
    with pytest.raises(ValueError, match="bandwidth"):
        q.kde(torch.randn(10), X, bandwidth=0.0)
    with pytest.raises(ValueError, match="all samples are equal"):
        q.kde(torch.zeros(10), X)


def test_log_q_keeps_kl_finite_where_q_underflows():
    # N(0, 0.2^2) underflows to exactly 0 beyond |x| ~ 7.7 while N(0, 1) is still positive there: the
    # plain KL(N(0,1) || N(0,0.2^2)) is +inf on the grid; with the exact log-density it is the closed form.
    p = normal(0.0, 1.0)
    log_narrow = -0.5 * (X / 0.2) ** 2 - math.log(0.2 * math.sqrt(2 * math.pi))
    narrow = log_narrow.exp()
    assert bool(((narrow == 0) & (p > 0)).any())
    assert q.kl_divergence(p, narrow, X) == math.inf
    expected = math.log(0.2 / 1.0) + 1.0 / (2 * 0.2**2) - 0.5
    assert q.kl_divergence(p, narrow, X, log_q=log_narrow) == pytest.approx(expected, abs=1e-9)
    assert q.cross_entropy(p, narrow, X, log_q=log_narrow) == pytest.approx(expected + q.entropy(p, X), abs=1e-9)
    with pytest.raises(ValueError, match="log_q must be the log of q"):
        q.kl_divergence(p, narrow, X, log_q=log_narrow + 1.0)
