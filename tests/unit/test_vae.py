"""labutils.vae: model shapes, the pytorch/examples loss, and the IWAE bound against exact likelihoods."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from benchmarks.vae_workload import examples_loss
from labutils import nets, vae
from tests.fixtures.reference_answers import iwae_bound


def test_autoencoder_shapes_range_and_three_layers_each_way():
    model = nets.MLPAutoencoder(z_dim=5)
    x = torch.rand(7, 1, 28, 28)
    with torch.no_grad():
        z, out = model.encode(x), model(x)
    assert z.shape == (7, 5)
    assert out.shape == (7, 1, 28, 28) and float(out.min()) >= 0 and float(out.max()) <= 1
    assert torch.equal(model.encode(x.flatten(1)), z)  # flat input is accepted too
    n_linear = lambda seq: sum(isinstance(m, torch.nn.Linear) for m in seq)
    assert n_linear(model.encoder) == 3 and n_linear(model.decoder) == 3


def test_vae_shapes_and_encoder_parameters():
    model = nets.MLPVAE(z_dim=3, hidden=16)
    mu, logvar = model.encode(torch.rand(4, 1, 28, 28))
    assert mu.shape == logvar.shape == (4, 3)
    assert model.decode(mu).shape == (4, 784)
    enc = {id(p) for p in model.encoder_parameters()}
    dec = {id(p) for p in model.decoder.parameters()}
    assert enc and not enc & dec and enc | dec == {id(p) for p in model.parameters()}


@pytest.mark.parametrize("bad", [torch.rand(4, 1, 27, 28), torch.rand(4, 100)])
def test_wrong_image_size_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"expected images \(N, 1, 28, 28\) or \(N, 784\)"):
        nets.MLPVAE().encode(bad)
    with pytest.raises(ValueError, match="expected images"):
        nets.MLPAutoencoder().encode(bad)


def test_bad_sizes_are_clear_errors():
    with pytest.raises(ValueError, match="z_dim and hidden must be positive"):
        nets.MLPVAE(z_dim=0)
    with pytest.raises(ValueError, match="must be positive"):
        nets.MLPAutoencoder(hidden=(256, 0))


def test_examples_loss_matches_torch_distributions_and_reaches_every_parameter():
    torch.manual_seed(0)
    model = nets.MLPVAE(z_dim=4, hidden=32)
    x = (torch.rand(6, 1, 28, 28) > 0.5).float()
    torch.manual_seed(1)
    loss = examples_loss(model, (x,))
    torch.manual_seed(1)
    mu, logvar = model.encode(x)
    q = Normal(mu, torch.exp(0.5 * logvar))
    z = mu + q.scale * torch.randn_like(mu)
    nll = -Bernoulli(logits=model.decode(z)).log_prob(x.flatten(1)).sum()
    expected = nll + kl_divergence(q, Normal(0.0, 1.0)).sum()
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-3)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def _exact_log_px(model: nets.MLPVAE, x: torch.Tensor) -> torch.Tensor:
    """log p(x) = log integral p(x|z) N(z; 0, 1) dz for a 1-D latent, by the trapezoid rule on [-12, 12]."""
    z = torch.linspace(-12, 12, 40001, dtype=torch.float64).unsqueeze(1)
    logits = model.decode(z)  # (M, x_dim)
    log_joint = Bernoulli(logits=logits.unsqueeze(1)).log_prob(x).sum(-1) + Normal(0.0, 1.0).log_prob(z)  # (M, N)
    return torch.log(torch.trapezoid(log_joint.exp(), z[:, 0], dim=0))


def test_importance_weights_estimate_the_exact_likelihood_without_bias():
    torch.manual_seed(3)
    model = nets.MLPVAE(z_dim=1, hidden=8, x_dim=2).double()
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    with torch.no_grad():
        exact = _exact_log_px(model, x)
    assert torch.isclose(exact.exp().sum(), torch.tensor(1.0, dtype=torch.float64), atol=1e-6)  # a distribution
    k = 20000
    log_w = vae.log_importance_weights(model, x, k, generator=torch.Generator().manual_seed(0))
    assert log_w.shape == (k, 4)
    w = log_w.exp()
    se = w.std(0) / math.sqrt(k)
    assert bool(((w.mean(0) - exact.exp()).abs() < 4 * se).all()), (w.mean(0), exact.exp(), se)  # E[w] = p(x)
    elbo = iwae_bound(log_w, 1)
    elbo_se = log_w.std(0) / math.sqrt(k)
    assert bool((elbo < exact + 3 * elbo_se).all())  # the ELBO is a lower bound


def test_iwae_bound_is_elbo_at_k1_logmeanexp_at_kK_and_increases_with_k():
    gen = torch.Generator().manual_seed(0)
    s = 1.5
    log_w = s * torch.randn(1000, 400, generator=gen, dtype=torch.float64)  # E[w] = exp(s^2 / 2)
    torch.testing.assert_close(iwae_bound(log_w, 1), log_w.mean(0))
    torch.testing.assert_close(iwae_bound(log_w, 1000), torch.logsumexp(log_w, 0) - math.log(1000))
    bounds = [iwae_bound(log_w, k) for k in (1, 10, 100)]
    for lo, hi in zip(bounds, bounds[1:]):
        diff = hi - lo  # paired over the 400 independent columns
        assert float(diff.mean()) > 3 * float(diff.std() / math.sqrt(diff.numel())), "bound must grow with k"
    top = bounds[-1]
    assert float(top.mean()) < s**2 / 2 + 3 * float(top.std() / math.sqrt(top.numel()))  # below log E[w]


def test_iwae_inputs_are_checked():
    model = nets.MLPVAE(z_dim=2, hidden=8)
    with pytest.raises(ValueError, match="positive number of importance samples"):
        vae.log_importance_weights(model, torch.rand(3, 784), 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vae.log_importance_weights(model, 255 * torch.rand(3, 784), 2)
    with pytest.raises(ValueError, match="between 1 and the number of draws K=5"):
        iwae_bound(torch.zeros(5, 3), 6)
    with pytest.raises(ValueError, match=r"must be \(K, N\)"):
        iwae_bound(torch.zeros(5), 1)


def test_importance_weights_are_reproducible_and_chunked():
    torch.manual_seed(0)
    model = nets.MLPVAE(z_dim=2, hidden=8)
    x = (torch.rand(5, 784) > 0.5).float()
    a = vae.log_importance_weights(model, x, 3, generator=torch.Generator().manual_seed(1))
    b = vae.log_importance_weights(model, x, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    chunked = vae.log_importance_weights(model, x, 3, generator=torch.Generator().manual_seed(1), max_rows=4)
    assert chunked.shape == (3, 5) and bool(torch.isfinite(chunked).all())
