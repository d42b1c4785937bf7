"""VampPrior and the learned mixture prior: known answers."""

from __future__ import annotations

import torch

from vaekit.models import MODELS, build_model
from vaekit.nets import NetConfig

SHAPE = (1, 8, 8)


def pair(k: int = 1):
    """A VampPrior with ``k`` pseudo-inputs and a plain VAE with the same encoder and decoder weights."""
    torch.manual_seed(0)
    net = NetConfig(hidden=[16])
    vamp = build_model(MODELS.get("vampprior").Config(latent_dim=3, net=net, n_pseudo=k), SHAPE)
    vae = build_model(MODELS.get("vae").Config(latent_dim=3, net=net), SHAPE)
    vae.load_state_dict({k: v for k, v in vamp.state_dict().items() if k in vae.state_dict()})
    return vamp, vae


def test_one_pseudo_input_encoded_at_the_prior_mean_is_the_gaussian_case():
    vamp, vae = pair(1)
    with torch.no_grad():  # shift the encoder head so that q(z | u_1) = N(0, I) exactly
        out = vamp.encoder.head(vamp.encoder.body(vamp.pseudo_inputs()))[0]  # (2Z,)
        vamp.encoder.head.bias -= out
        vae.encoder.head.bias.copy_(vamp.encoder.head.bias)
    prior = vamp.prior()
    torch.testing.assert_close(prior.mu, torch.zeros(1, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(prior.logvar, torch.zeros(1, 3), atol=1e-6, rtol=0)
    x = torch.bernoulli(torch.rand(5, *SHAPE))
    torch.manual_seed(1)
    w_vamp = vamp.log_weights(x, k=64)
    torch.manual_seed(1)
    w_vae = vae.log_weights(x, k=64)
    torch.testing.assert_close(w_vamp, w_vae, atol=1e-4, rtol=0)  # same noise, same weights
    xs = x.repeat(4000, 1, 1, 1)
    mc = vamp.elbo_terms(xs).kl[:, 0].view(4000, 5)  # Monte Carlo rate (no closed form for a mixture)
    closed = vae.encode(x).kl()  # the Gaussian VAE's closed form
    se = mc.std(0) / 4000 ** 0.5
    assert (abs(mc.mean(0) - closed) < 4 * se + 1e-4).all()


def test_prior_is_the_mean_of_the_pseudo_input_posteriors_and_trains():
    vamp, _ = pair(4)
    q = vamp.encode(vamp.pseudo_inputs())
    z = torch.randn(7, 3)
    expected = torch.logsumexp(q.log_prob(z[:, None]), dim=1) - torch.log(torch.tensor(4.0))  # (7,)
    torch.testing.assert_close(vamp.prior().log_prob(z), expected, rtol=1e-5, atol=1e-5)
    x = torch.bernoulli(torch.rand(5, *SHAPE))
    vamp.loss(x)["loss"].backward()
    assert vamp.pseudo.grad is not None and vamp.pseudo.grad.abs().sum() > 0
    assert vamp.pseudo_inputs().min() >= 0 and vamp.pseudo_inputs().max() <= 1


def test_prior_is_cached_outside_autograd_and_follows_updates():
    vamp, _ = pair(3)
    with torch.no_grad():
        first = vamp.prior()
        assert vamp.prior() is first  # no second pass over the pseudo-inputs
        vamp.pseudo.add_(0.3)  # an optimizer step changes the parameters in place
        second = vamp.prior()
    assert second is not first and not torch.equal(second.mu, first.mu)
    assert vamp.prior() is not second  # with autograd on it is always rebuilt


def test_prior_cache_follows_a_fused_adam_step_between_validations():
    """Fused Adam updates in place without bumping versions; the train/eval switch around each
    validation pass drops the cache, so validation never reads a stale prior."""
    vamp, _ = pair(3)
    opt = torch.optim.Adam(vamp.parameters(), lr=0.1, fused=True)
    x = torch.bernoulli(torch.rand(4, *SHAPE))
    vamp.eval()
    with torch.no_grad():
        before = vamp.prior().mu.clone()
    vamp.train()
    vamp.loss(x)["loss"].backward()
    opt.step()
    vamp.eval()
    with torch.no_grad():
        after = vamp.prior().mu
        torch.testing.assert_close(after, vamp.mixture().mu)
    assert not torch.equal(after, before)


def test_learned_mixture_prior_is_its_parameters():
    torch.manual_seed(0)
    model = build_model(MODELS.get("mog_prior").Config(latent_dim=2, net=NetConfig(hidden=[8]), n_components=3), SHAPE)
    with torch.no_grad():
        model.prior_mu.copy_(torch.tensor([[-4.0, 0.0], [4.0, 0.0], [0.0, 4.0]]))
        model.prior_logvar.fill_(-4.0)
        model.prior_logits.copy_(torch.tensor([0.0, 0.0, -50.0]))  # third component off
    z = model.prior().sample(4000)
    assert ((z[:, 0].abs() - 4).abs() < 0.6).all() and (z[:, 1].abs() < 0.6).all()
    assert 0.45 < (z[:, 0] > 0).float().mean() < 0.55
    x = torch.bernoulli(torch.rand(5, *SHAPE))
    model.loss(x)["loss"].backward()
    assert all(p.grad is not None for p in (model.prior_mu, model.prior_logvar, model.prior_logits))
