"""The unrolled generator loss of Metz et al. (2017), through the discriminator's own Adam update.

The generator answers the discriminator that will answer its move: from D's current parameters
theta_0 and Adam state (m_0, v_0, t_0), take ``k`` Adam steps on D's loss, keeping the graph
(``create_graph=True``), so that theta_k is a differentiable function of the generator's samples,
and return the generator's loss against theta_k. D runs with the unrolled parameters through
:func:`torch.func.functional_call`; D's real parameters, its ``.grad`` and its optimiser state are
not touched (the unrolling starts from detached copies: the loss carries gradient to G only).

:func:`generator_loss` is the loss; :func:`generator_loss_for` wraps it as the ``g_loss(D, fake)``
callable of :func:`labutils.train.fit_gan`, drawing the unrolling's real batch from a sampler.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

DLoss = Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor]
GLoss = Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor], torch.Tensor]


def _sqrt0(v: torch.Tensor) -> torch.Tensor:
    """sqrt(v) for v >= 0 with gradient 0 (not inf, hence no 0 * inf = NaN) where v == 0 (a dead ReLU unit)."""
    positive = v > 0
    return torch.where(positive, torch.where(positive, v, torch.ones_like(v)).sqrt(), torch.zeros_like(v))


def _check_k(k: int) -> None:
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"k is the number of unrolled discriminator steps and must be an int >= 0, got {k!r}")


def _adam_settings(opt: torch.optim.Optimizer) -> dict[nn.Parameter, dict]:
    """Each optimised parameter -> its param_group, after checking the optimiser is plain Adam."""
    if not isinstance(opt, torch.optim.Adam):
        raise ValueError(f"the unrolled loss differentiates through Adam's update; got a {type(opt).__name__}: "
                         "give the discriminator a torch.optim.Adam")
    groups = {}
    for group in opt.param_groups:
        unsupported = [name for name in ("amsgrad", "maximize", "decoupled_weight_decay") if group.get(name)]
        if unsupported:
            raise ValueError(f"the unrolled Adam step implements plain Adam (with L2 weight_decay); this optimiser "
                             f"sets {unsupported}: use torch.optim.Adam without them")
        groups.update({p: group for p in group["params"]})
    return groups


def _adam_step(p: torch.Tensor, g: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor, float],
               group: dict) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, float]]:
    """One differentiable step of ``torch.optim.Adam``: (theta_{t-1}, grad, (m, v, t-1)) -> (theta_t, (m, v, t))."""
    (m, v, t), lr, (b1, b2), eps, wd = state, float(group["lr"]), group["betas"], group["eps"], group["weight_decay"]
    if wd:
        g = g + wd * p  # g_t = grad + lambda * theta_{t-1}   (Adam's L2 weight decay)
    t = t + 1  # t = t + 1
    m = b1 * m + (1 - b1) * g  # m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
    v = b2 * v + (1 - b2) * g * g  # v_t = beta2 * v_{t-1} + (1 - beta2) * g_t^2
    m_hat = m / (1 - b1**t)  # m_hat_t = m_t / (1 - beta1^t)
    v_hat_sqrt = _sqrt0(v) / (1 - b2**t) ** 0.5  # sqrt(v_hat_t) = sqrt(v_t) / sqrt(1 - beta2^t)
    return p - lr * m_hat / (v_hat_sqrt + eps), (m, v, t)  # theta_t = theta_{t-1} - lr m_hat_t / (sqrt(v_hat_t) + eps)


def generator_loss(D: nn.Module, opt_d: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor, *,
                    k: int, d_loss: DLoss, g_loss: GLoss | None) -> torch.Tensor:
    """The generator's loss against D after ``k`` differentiable Adam steps of D on (real, fake).

    D: the discriminator, (B, ...) -> (B, 1) logits or scores; opt_d: its ``torch.optim.Adam``,
    whose state (exp_avg, exp_avg_sq, step) and hyper-parameters (lr, betas, eps, weight_decay, read
    from its param_groups now, so a learning-rate schedule applies) the unrolling continues from.
    real: (B, ...) a real batch; fake: (B, ...) generated samples *with* their graph to G (``G(z)``).
    d_loss(D_, real, fake) and g_loss(D_, fake): scalar losses to minimise, in ``fit_gan``'s
    convention, where D_ is D as a function x -> D(x) at the unrolled parameters. ``g_loss=None``
    is the saddle objective of Metz et al.'s demo code, ``-d_loss(D_k, real, fake)``: its real-data
    term depends on G through theta_k (for k >= 1), so the generator is also told how its move
    changes D's verdict on the real data.
    k: unrolling steps, k >= 0; k = 0 is exactly ``g_loss(D, fake)``. Each step reuses the same
    batch (Metz et al.'s code). Parameters of D outside ``opt_d`` stay fixed.
    Returns a scalar whose gradient w.r.t. G includes the term through theta_k(G).
    Cost: k forward passes of D on both batches with a differentiable backward, and a double backward.
    """
    _check_k(k)
    groups = _adam_settings(opt_d)
    named = dict(D.named_parameters())
    unrolled = [name for name, p in named.items() if p in groups]
    theta = {name: p.detach().requires_grad_(p in groups) for name, p in named.items()}
    state = {}
    for name in unrolled:
        s, p = opt_d.state.get(named[name], {}), named[name]
        m, v = s.get("exp_avg", torch.zeros_like(p)), s.get("exp_avg_sq", torch.zeros_like(p))
        state[name] = (m.detach(), v.detach(), float(s.get("step", 0)))

    def at(params: dict[str, torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: functional_call(D, params, (x,))

    for _ in range(k):
        loss = d_loss(at(theta), real, fake)
        grads = torch.autograd.grad(loss, [theta[n] for n in unrolled], create_graph=True)
        for name, g in zip(unrolled, grads):
            theta[name], state[name] = _adam_step(theta[name], g, state[name], groups[named[name]])
    if g_loss is None:  # the saddle objective: L_G = -L_D(theta_k(G); real, fake)
        return -d_loss(at(theta), real, fake)
    return g_loss(at(theta), fake)


def generator_loss_for(opt_d: torch.optim.Optimizer, sample_real: Callable[[int], torch.Tensor], *, k: int,
                    d_loss: DLoss, g_loss: GLoss | None) -> Callable[[nn.Module, torch.Tensor], torch.Tensor]:
    """A ``g_loss(D, fake)`` for :func:`labutils.train.fit_gan`: :func:`generator_loss` with D's optimiser.

    sample_real(n): a real batch (n, ...) on the fakes' device, drawn for each generator step (fit_gan
    does not pass its real batch to ``g_loss``). The other arguments are those of :func:`generator_loss`.
    """
    _adam_settings(opt_d)
    _check_k(k)

    def g_loss_fn(D: nn.Module, fake: torch.Tensor) -> torch.Tensor:
        return generator_loss(D, opt_d, sample_real(fake.shape[0]), fake, k=k, d_loss=d_loss, g_loss=g_loss)
    return g_loss_fn
