"""The unrolled generator loss: exact at k = 0, Adam's own update, the second-order term, no side effects.

Each test names the broken variant of ``labutils.unrolled`` it fails on.
"""

import copy

import pytest
import torch

from labutils import losses, nets, train
from labutils.unrolled import generator_loss, generator_loss_for

d_loss, g_loss = losses.gan_d_loss, losses.gan_g_loss


def setup(dtype=torch.float32, warm_steps=3, seed=0, **adam):
    """G (3 -> 2), D (2 -> 1, with a dead-unit-prone ReLU layer), D's Adam with a few real steps of state."""
    torch.manual_seed(seed)
    G, D = nets.mlp(3, 2, 8, 1).to(dtype), nets.mlp(2, 1, 8, 2).to(dtype)
    opt = torch.optim.Adam(D.parameters(), **{"lr": 0.05, "betas": (0.5, 0.9), **adam})
    gen = torch.Generator().manual_seed(seed)
    real, z = torch.randn(16, 2, generator=gen, dtype=dtype), torch.randn(16, 3, generator=gen, dtype=dtype)
    for _ in range(warm_steps):  # a state mid-training: exp_avg, exp_avg_sq != 0, step = warm_steps
        opt.zero_grad()
        d_loss(D, torch.randn(16, 2, generator=gen, dtype=dtype), G(z).detach()).backward()
        opt.step()
    return G, D, opt, real, z


@pytest.mark.parametrize("warm_steps", [0, 3])
def test_k0_is_exactly_the_plain_generator_loss_and_gradient(warm_steps):
    """Fails if k = 0 still takes a step (off-by-one loop) or the loss is evaluated at other parameters."""
    G, D, opt, real, z = setup(warm_steps=warm_steps)
    plain = g_loss(D, G(z))
    (g_plain,) = torch.autograd.grad(plain, [G[0].weight])
    out = generator_loss(D, opt, real, G(z), k=0, d_loss=d_loss, g_loss=g_loss)
    (g_out,) = torch.autograd.grad(out, [G[0].weight])
    assert torch.equal(out, plain) and torch.equal(g_out, g_plain)


@pytest.mark.parametrize("adam", [{}, {"weight_decay": 0.1, "eps": 1e-3}])
@pytest.mark.parametrize("warm_steps", [0, 3])
def test_unrolled_parameters_follow_torch_adam(warm_steps, adam):
    """After k steps, D's unrolled parameters are those of torch.optim.Adam run k steps on the same batch.

    The unrolled D_k is seen through the g_loss callback and compared with the reference on 32 probe
    points (float64, to 1e-10 relative), which a change in any live parameter moves. Fails on a missing
    bias correction (either), a missing or misplaced eps (eps = 1e-3 makes it visible), a step count
    that does not continue the optimiser's, or a missing weight decay.
    """
    k = 4
    G, D, opt, real, z = setup(dtype=torch.float64, warm_steps=warm_steps, **adam)
    fake = G(z)
    probe = torch.randn(32, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    seen = {}

    def capture(D_k, fake_):
        seen["out"] = D_k(probe)
        return D_k(fake_).mean()

    generator_loss(D, opt, real, fake, k=k, d_loss=d_loss, g_loss=capture)
    D_ref = copy.deepcopy(D)
    opt_ref = torch.optim.Adam(D_ref.parameters(), **opt.defaults)
    opt_ref.load_state_dict(opt.state_dict())
    for _ in range(k):
        opt_ref.zero_grad()
        d_loss(D_ref, real, fake.detach()).backward()
        opt_ref.step()
    torch.testing.assert_close(seen["out"], D_ref(probe), rtol=1e-10, atol=1e-12)
    assert not torch.allclose(D_ref(probe), D(probe))  # the steps moved D: the comparison has teeth


def test_generator_gradient_matches_finite_differences():
    """d(loss after unrolling)/d(a generator weight) by central differences, in float64.

    Fails without ``create_graph=True`` (the term through theta_k(G) is lost: what remains is the
    gradient of the plain loss at theta_k, shown below to differ) and if the unrolled steps detach the fakes.
    """
    G, D, opt, real, z = setup(dtype=torch.float64, warm_steps=3)
    k, weight, h = 3, G[0].weight, 1e-6

    def loss(d=d_loss) -> torch.Tensor:
        return generator_loss(D, opt, real, G(z), k=k, d_loss=d, g_loss=g_loss)

    (grad,) = torch.autograd.grad(loss(), [weight])
    fd = torch.empty_like(weight)
    for i in range(weight.numel()):
        values = []
        for shift in (h, -h):
            with torch.no_grad():
                weight.view(-1)[i] += shift
            values.append(float(loss().detach()))
            with torch.no_grad():
                weight.view(-1)[i] -= shift
        fd.view(-1)[i] = (values[0] - values[1]) / (2 * h)
    torch.testing.assert_close(grad, fd, rtol=1e-5, atol=1e-8)
    # without the second-order term (theta_k not a function of G) the gradient is clearly different
    (first_order,) = torch.autograd.grad(loss(lambda D_, r, f: d_loss(D_, r, f.detach())), [weight])
    assert (first_order - fd).abs().max() > 1e-3 * fd.abs().max()


def test_the_call_leaves_d_and_its_optimiser_untouched():
    """Fails if the unrolling updates D's parameters or Adam's state in place, or leaves gradients on D."""
    G, D, opt, real, z = setup(warm_steps=3)
    D.zero_grad(set_to_none=True)
    params = {n: p.detach().clone() for n, p in D.named_parameters()}
    state = copy.deepcopy(opt.state_dict())
    generator_loss(D, opt, real, G(z), k=5, d_loss=d_loss, g_loss=g_loss).backward()
    assert all(torch.equal(p, params[n]) and p.grad is None for n, p in D.named_parameters())
    after = opt.state_dict()
    for i, s in state["state"].items():
        assert all(torch.equal(s[key], after["state"][i][key]) for key in ("exp_avg", "exp_avg_sq", "step"))
    assert G[0].weight.grad is not None and G[0].weight.grad.abs().sum() > 0


def test_dead_units_give_finite_gradients():
    """A unit whose gradient is exactly 0 (v = 0) must not turn the generator's gradient into NaN (d sqrt(0))."""
    G, D, opt, real, z = setup(warm_steps=0)
    with torch.no_grad():
        D[0].bias[:4] = -100.0  # four hidden units never fire: their weights' gradients are exactly 0
    out = generator_loss(D, opt, real, G(z), k=3, d_loss=d_loss, g_loss=g_loss)
    out.backward()
    assert all(torch.isfinite(p.grad).all() for p in G.parameters())


def test_bad_input_is_refused():
    G, D, opt, real, z = setup(warm_steps=0)
    with pytest.raises(ValueError, match="k is the number"):
        generator_loss(D, opt, real, G(z), k=-1, d_loss=d_loss, g_loss=g_loss)
    with pytest.raises(ValueError, match="got a SGD"):
        generator_loss(D, torch.optim.SGD(D.parameters(), lr=0.1), real, G(z), k=1, d_loss=d_loss, g_loss=g_loss)
    with pytest.raises(ValueError, match="amsgrad"):
        generator_loss_for(torch.optim.Adam(D.parameters(), amsgrad=True), lambda n: real, k=1, d_loss=d_loss,
                        g_loss=g_loss)
    with pytest.raises(ValueError, match="decoupled_weight_decay"):
        generator_loss_for(torch.optim.AdamW(D.parameters()), lambda n: real, k=1, d_loss=d_loss, g_loss=g_loss)


def test_fit_gan_takes_the_factory_as_its_g_loss():
    """The hook fit_gan offers: g_loss(D, fake) built from D's optimiser; a short run stays finite and moves G."""
    G, D, opt, real, z = setup(warm_steps=0)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-2)
    before = G[0].weight.detach().clone()
    gen = torch.Generator().manual_seed(3)
    g = generator_loss_for(opt, lambda n: torch.randn(n, 2, generator=gen), k=2, d_loss=d_loss, g_loss=g_loss)
    hist = train.fit_gan(G, D, real, d_loss=d_loss, g_loss=g, z_dim=3, steps=5, opt_g=opt_g, opt_d=opt,
                         batch_size=16, log_every=5, amp=False, progress=False)
    assert len(hist) == 1 and not torch.equal(G[0].weight, before)


def test_saddle_objective_is_minus_the_unrolled_d_loss_with_its_real_term():
    """``g_loss=None``: -d_loss(D_k, real, fake) (Metz et al.'s code), gradient checked by central differences.

    Fails if the saddle drops the real-data term (its gradient reaches G only through theta_k, so the
    fake-only loss gives a different gradient, shown below), evaluates it at theta_0, or flips its sign.
    """
    G, D, opt, real, z = setup(dtype=torch.float64, warm_steps=3)
    k, weight, h = 2, G[0].weight, 1e-6

    def saddle() -> torch.Tensor:
        return generator_loss(D, opt, real, G(z), k=k, d_loss=d_loss, g_loss=None)

    seen = {}

    def capture(D_k, fake_):  # the same unrolling, to evaluate -d_loss at theta_k by hand
        seen["value"] = -d_loss(D_k, real, fake_)
        return -torch.nn.functional.softplus(D_k(fake_)).mean()  # minus the fake term only

    fake_only = generator_loss(D, opt, real, G(z), k=k, d_loss=d_loss, g_loss=capture)
    out = saddle()
    torch.testing.assert_close(out, seen["value"], rtol=1e-12, atol=0)
    assert not torch.allclose(out, -d_loss(D, real, G(z)))  # not theta_0
    (grad,) = torch.autograd.grad(out, [weight])
    fd = torch.empty_like(weight)
    for i in range(weight.numel()):
        values = []
        for shift in (h, -h):
            with torch.no_grad():
                weight.view(-1)[i] += shift
            values.append(float(saddle().detach()))
            with torch.no_grad():
                weight.view(-1)[i] -= shift
        fd.view(-1)[i] = (values[0] - values[1]) / (2 * h)
    torch.testing.assert_close(grad, fd, rtol=1e-5, atol=1e-8)
    (g_fake,) = torch.autograd.grad(fake_only, [weight])
    assert (g_fake - grad).abs().max() > 1e-3 * grad.abs().max()  # the real term's share through theta_k
