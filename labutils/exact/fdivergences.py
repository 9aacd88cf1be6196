"""f-divergences between 1-D densities: generators, Fenchel conjugates, f-GAN activations, quadrature.

D_f(P || Q) = ∫ q(x) f(p(x) / q(x)) dx for a convex f with f(1) = 0. Every divergence here carries the
pieces of Nowozin, Cseke and Tomioka (2016, "f-GAN", Table 6): the generator ``f``, its Fenchel conjugate
``f*(t) = sup_u (t u - f(u))`` (+inf outside its domain), and the output activation ``g_f`` that maps a
critic's raw output v into that domain, so that E_P[g_f(V)] - E_Q[f*(g_f(V))] <= D_f(P || Q) for any V.
Jensen-Shannon is kept at its usual scale (<= log 2); Table 6 lists the generator of twice it. Jeffrey
(KL + reverse KL), not in Table 6, gets its conjugate through the Lambert W function (Newton's method) and
the activation g_f(v) = f'(e^v), for which the optimal raw output is log p/q and f*(g_f(v)) = e^v + v - 1.

Exact values come from quadrature on a uniform grid, computed from log-densities so that density
ratios of 1e300 or 1e-300 in the tails never overflow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import optimize

from labutils.exact import quadrature

Tensor = torch.Tensor
LogDensity = Callable[[Tensor], Tensor]  # points (n,) -> log-densities (n,); or pass the values (n,) on the grid
LOG2 = math.log(2.0)


def _log_abs_expm1(x: Tensor) -> Tensor:
    """log|e^x - 1| without overflow for large |x| (-inf at x = 0)."""
    return x.clamp(min=0) + torch.log(-torch.expm1(-x.abs()))


def _outside(t: Tensor, value: Tensor, upper: float) -> Tensor:
    """``value`` where t < upper, +inf elsewhere (the conjugate's sup is unbounded there)."""
    return torch.where(t < upper, value, torch.full_like(value, math.inf))


def jeffrey_argmax(t: Tensor, iterations: int = 30) -> Tensor:
    """u*(t) = argmax_u (t u - (u - 1) log u) = 1 / W(e^(1 - t)), W the Lambert W function.

    Solves e^s + s = 1 - t for s = log W by Newton's method (convex, increasing: monotone from the
    start used here); returns e^(-s). Works for any real t (float64 advised beyond |t| ~ 80).
    """
    y = 1.0 - t.detach()
    s = torch.where(y > 1, torch.log(y.clamp(min=1)), y)  # g(s) = e^s + s - y >= 0 here: Newton is monotone
    for _ in range(iterations):
        s = s - (torch.exp(s) + s - y) / (torch.exp(s) + 1)
    return torch.exp(-s)


def _jeffrey_conjugate(t: Tensor) -> Tensor:
    # envelope theorem: with u* detached, t u* - f(u*) has the right value and gradient d f*/dt = u*
    u = jeffrey_argmax(t)
    return t * u - (u - 1) * torch.log(u)


@dataclass(frozen=True)
class FDivergence:
    """One f-divergence and everything the exact route and the f-GAN route need.

    All functions act elementwise on tensors. ``f`` takes density ratios u >= 0; ``conjugate`` takes
    t (+inf outside the open interval ``domain``); ``activation`` maps any real v into that domain;
    ``conjugate_of_activation(v)`` is f*(g_f(v)) written without cancellation; ``integrand(lp, lq)``
    is q f(p/q) from log-densities; ``optimal_critic(lr)`` is T*(x) = f'(p/q) from lr = log p - log q.
    """

    name: str
    label: str
    f: Callable[[Tensor], Tensor]
    conjugate: Callable[[Tensor], Tensor]
    activation: Callable[[Tensor], Tensor]
    conjugate_of_activation: Callable[[Tensor], Tensor]
    integrand: Callable[[Tensor, Tensor], Tensor]
    optimal_critic: Callable[[Tensor], Tensor]
    domain: tuple[float, float]

    def generator(self, u: Tensor) -> Tensor:
        """f(u) with a check that u is a density ratio (u >= 0)."""
        u = torch.as_tensor(u, dtype=torch.float64)
        if bool((u < 0).any()) or bool(torch.isnan(u).any()):
            raise ValueError(f"{self.name}: f is defined for density ratios u >= 0, got min {float(u.min())}")
        return self.f(u)


def _js_integrand(lp: Tensor, lq: Tensor) -> Tensor:
    lr = lp - lq
    return 0.5 * (lp.exp() * (LOG2 - F.softplus(-lr)) + lq.exp() * (LOG2 - F.softplus(lr)))


DIVERGENCES: dict[str, FDivergence] = {d.name: d for d in (
    FDivergence(
        name="kl", label="KL", domain=(-math.inf, math.inf),
        f=lambda u: torch.xlogy(u, u),  # u log u
        conjugate=lambda t: torch.exp(t - 1),  # e^(t-1)
        activation=lambda v: v,  # g_f(v) = v
        conjugate_of_activation=lambda v: torch.exp(v - 1),
        integrand=lambda lp, lq: lp.exp() * (lp - lq),  # p log(p/q)
        optimal_critic=lambda lr: 1 + lr),  # T* = 1 + log(p/q)
    FDivergence(
        name="reverse_kl", label="reverse KL", domain=(-math.inf, 0.0),
        f=lambda u: -torch.log(u),  # -log u
        conjugate=lambda t: _outside(t, -1 - torch.log(-t.clamp(max=-1e-300)), 0.0),  # -1 - log(-t), t < 0
        activation=lambda v: -torch.exp(-v),  # g_f(v) = -e^(-v)
        conjugate_of_activation=lambda v: v - 1,
        integrand=lambda lp, lq: lq.exp() * (lq - lp),  # q log(q/p)
        optimal_critic=lambda lr: -torch.exp(-lr)),  # T* = -q/p
    FDivergence(
        name="pearson", label="Pearson $\\chi^2$", domain=(-math.inf, math.inf),
        f=lambda u: (u - 1) ** 2,  # (u - 1)^2
        conjugate=lambda t: t**2 / 4 + t,  # t^2/4 + t
        activation=lambda v: v,  # g_f(v) = v
        conjugate_of_activation=lambda v: v**2 / 4 + v,
        integrand=lambda lp, lq: torch.exp(lq + 2 * _log_abs_expm1(lp - lq)),  # q (p/q - 1)^2
        optimal_critic=lambda lr: 2 * torch.expm1(lr)),  # T* = 2 (p/q - 1)
    FDivergence(
        name="hellinger", label="squared Hellinger", domain=(-math.inf, 1.0),
        f=lambda u: (torch.sqrt(u) - 1) ** 2,  # (sqrt(u) - 1)^2
        conjugate=lambda t: _outside(t, t / (1 - t.clamp(max=1 - 1e-12)), 1.0),  # t / (1 - t), t < 1
        activation=lambda v: -torch.expm1(-v),  # g_f(v) = 1 - e^(-v)
        conjugate_of_activation=lambda v: torch.expm1(v),
        integrand=lambda lp, lq: torch.exp(lq + 2 * _log_abs_expm1((lp - lq) / 2)),  # q (sqrt(p/q) - 1)^2
        optimal_critic=lambda lr: -torch.expm1(-lr / 2)),  # T* = 1 - sqrt(q/p)
    FDivergence(
        name="js", label="JS", domain=(-math.inf, LOG2 / 2),
        f=lambda u: 0.5 * (torch.xlogy(u, u) - (u + 1) * torch.log((u + 1) / 2)),  # (u log u - (u+1) log((u+1)/2)) / 2
        conjugate=lambda t: _outside(t, -0.5 * torch.log(2 - torch.exp(2 * t.clamp(max=LOG2 / 2))), LOG2 / 2),
        activation=lambda v: 0.5 * (LOG2 - F.softplus(-v)),  # g_f(v) = (log 2 - log(1 + e^(-v))) / 2
        conjugate_of_activation=lambda v: 0.5 * (F.softplus(v) - LOG2),
        integrand=_js_integrand,
        optimal_critic=lambda lr: 0.5 * (LOG2 - F.softplus(-lr))),  # T* = (log 2 + log(p / (p + q))) / 2
    FDivergence(
        name="jeffrey", label="Jeffrey", domain=(-math.inf, math.inf),
        f=lambda u: (u - 1) * torch.log(u),  # (u - 1) log u
        conjugate=_jeffrey_conjugate,  # through the Lambert W function
        activation=lambda v: 1 + v - torch.exp(-v),  # g_f(v) = f'(e^v)
        conjugate_of_activation=lambda v: torch.expm1(v) + v,
        integrand=lambda lp, lq: torch.exp(lq + _log_abs_expm1(lp - lq)) * (lp - lq).abs(),  # (p - q) log(p/q)
        optimal_critic=lambda lr: lr - torch.expm1(-lr)),  # T* = f'(p/q) = 1 + log(p/q) - q/p
)}
NAMES: tuple[str, ...] = tuple(DIVERGENCES)


def get(name: str | FDivergence) -> FDivergence:
    """The divergence called ``name`` (one of :data:`NAMES`)."""
    if isinstance(name, FDivergence):
        return name
    if name not in DIVERGENCES:
        raise ValueError(f"unknown f-divergence {name!r}: use one of {', '.join(NAMES)}")
    return DIVERGENCES[name]


def _log_density_on(log_density: LogDensity | Tensor, grid: Tensor, which: str) -> Tensor:
    """The log-density on the grid: a callable's values there, or values (n,) already computed."""
    values = log_density if isinstance(log_density, Tensor) else log_density(grid)
    values = torch.as_tensor(values, dtype=torch.float64)
    if values.shape != grid.shape:
        raise ValueError(f"log_{which} must map the grid (n,) to (n,) log-densities, got shape {tuple(values.shape)}")
    if bool(torch.isnan(values).any()) or bool((values == math.inf).any()):
        raise ValueError(f"log_{which} returned NaN or +inf on the grid: it must be a log-density")
    return values


def _integrate_to_the_tails(values: Tensor, grid: Tensor, tail_tol: float) -> float:
    """Trapezoid integral of ``values`` over ``grid``; +inf when they overflow or have not died out at the ends."""
    if not bool(torch.isfinite(values).all()):  # overflow: the integrand itself is astronomically large
        return math.inf
    total = quadrature.integrate(values, grid)
    edge = float(torch.maximum(values[0].abs(), values[-1].abs())) * quadrature.spacing(grid) * values.numel()
    return math.inf if edge > tail_tol * max(abs(total), 1e-300) else total


def divergence(name: str | FDivergence, log_p: LogDensity | Tensor, log_q: LogDensity | Tensor, grid: Tensor,
               tail_tol: float = 1e-9) -> float:
    """D_f(P || Q) = ∫ q f(p/q) dx by quadrature on ``grid`` (from :func:`labutils.exact.quadrature.grid`).

    log_p, log_q: callables mapping points (n,) to log-densities (n,), or those values on the grid.
    Returns +inf when the integrand overflows or has not died out at the ends of the grid (relative
    tolerance ``tail_tol``): the divergence is infinite (e.g. Pearson chi^2 when Q's tails are
    thinner than P's), or the grid is too narrow.
    """
    div = get(name)
    values = div.integrand(_log_density_on(log_p, grid, "p"), _log_density_on(log_q, grid, "q"))
    return max(_integrate_to_the_tails(values, grid, tail_tol), 0.0)


def bound_by_quadrature(name: str | FDivergence, critic: Tensor, log_p: LogDensity | Tensor,
                        log_q: LogDensity | Tensor, grid: Tensor, *, raw: bool = False) -> float:
    """The variational bound ∫ p T - ∫ q f*(T) for a critic given by its values (n,) on ``grid``.

    critic: T itself, inside f*'s domain; or, with ``raw=True``, the network's raw outputs v, with
    T = g_f(v) and f*(T) taken from ``conjugate_of_activation`` (finite even where g_f(v) rounds onto
    the domain's edge). For every T this is <= D_f(P || Q) (Fenchel-Young), with equality at T = f'(p/q).
    """
    div = get(name)
    critic = torch.as_tensor(critic, dtype=torch.float64)
    if critic.shape != grid.shape:
        raise ValueError(f"critic must hold one value per grid point {tuple(grid.shape)}, got {tuple(critic.shape)}")
    lp, lq = _log_density_on(log_p, grid, "p"), _log_density_on(log_q, grid, "q")
    t, conj = (div.activation(critic), div.conjugate_of_activation(critic)) if raw else (critic, div.conjugate(critic))
    values = lp.exp() * t - lq.exp() * conj
    return quadrature.integrate(values, grid)


def conjugate_numerically(f: Callable[[Tensor], Tensor], t: float, u_max: float = 1e6) -> float:
    """sup over 0 <= u <= u_max of (t u - f(u)), by a log-spaced search refined with Brent's method.

    f: a convex generator on u >= 0 (elementwise on float64 tensors). For checking derived conjugates.
    """
    u = torch.cat([torch.zeros(1, dtype=torch.float64), torch.logspace(-8, math.log10(u_max), 4001,
                                                                       dtype=torch.float64)])
    values = t * u - f(u)
    values = torch.where(torch.isnan(values), torch.full_like(values, -math.inf), values)
    i = int(values.argmax())
    lo, hi = float(u[max(i - 1, 0)]), float(u[min(i + 1, u.numel() - 1)])
    if hi <= lo:
        return float(values[i])
    res = optimize.minimize_scalar(lambda x: -float(t * x - f(torch.tensor(x, dtype=torch.float64))),
                                   bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return max(float(values[i]), -float(res.fun))


@dataclass(frozen=True)
class GaussianFit:
    """The N(mu, sigma^2) minimising a divergence, and the divergence it reaches."""

    name: str
    mu: float
    sigma: float
    value: float


def fit_gaussian(name: str | FDivergence, log_p: LogDensity | Tensor, grid: Tensor,
                 starts: Sequence[tuple[float, float]]) -> GaussianFit:
    """argmin over (mu, sigma) of D_f(P || N(mu, sigma^2)) by quadrature, Nelder-Mead from each start.

    starts: (mu, sigma) pairs; several are needed when the divergence has local minima (reverse KL
    has one near each mode). Optimises (mu, log sigma), so sigma stays positive.
    """
    div = get(name)
    if not starts or any(len(s) != 2 or not s[1] > 0 for s in starts):
        raise ValueError(f"starts must be a non-empty list of (mu, sigma) with sigma > 0, got {starts!r}")
    log_p_on_grid = _log_density_on(log_p, grid, "p")  # P is fixed: evaluate it once

    def objective(theta: np.ndarray) -> float:
        mu, log_sigma = float(theta[0]), float(theta[1])
        return divergence(div, log_p_on_grid, lambda x: quadrature.gaussian_log_prob(x, mu, math.exp(log_sigma)), grid)

    best = None
    for mu0, sigma0 in starts:
        res = optimize.minimize(objective, np.array([mu0, math.log(sigma0)]), method="Nelder-Mead",
                                options={"xatol": 1e-6, "fatol": 1e-11, "maxiter": 2000})
        if best is None or res.fun < best.fun:
            best = res
    return GaussianFit(div.name, float(best.x[0]), math.exp(float(best.x[1])), float(best.fun))
