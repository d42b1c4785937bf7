"""The plain VAE: ELBO bound on a linear-Gaussian model, loss terms, reconstruction/sampling shapes."""

import torch

from vaekit.models import LossContext, ModelConfig, build_model
from vaekit.nets import NetConfig

from ..ppca import linear_gaussian_vae


def test_elbo_equals_log_px_with_the_exact_posterior():
    model, log_px = linear_gaussian_vae(exact=True)
    x = model.sample_x(8)
    # log p(x, z) - log q(z|x) is constant in z when q is the true posterior
    torch.testing.assert_close(model.log_weights(x, k=5), log_px(x).expand(5, 8), rtol=0, atol=1e-6)
    # the closed-form-KL estimator used for training agrees in expectation
    x_rep = x.repeat(4000, 1)
    torch.testing.assert_close(model.loss(x_rep)["elbo"], log_px(x).mean(), rtol=0, atol=0.02)


def test_elbo_never_exceeds_log_px():
    torch.manual_seed(0)
    model, log_px = linear_gaussian_vae(exact=False)
    x = model.sample_x(32)
    w = model.log_weights(x, k=4000)  # (k, B): per-sample ELBO estimates
    elbo, se = w.mean(0), w.std(0) / 4000 ** 0.5
    gap = log_px(x) - elbo
    assert (gap > -4 * se).all()
    assert gap.mean() > 0.05  # a wrong posterior leaves a real gap


def test_loss_terms_follow_the_convention():
    model = build_model(ModelConfig(latent_dim=3, net=NetConfig(hidden=[16])), (1, 8, 8))
    x = torch.rand(10, 1, 8, 8)
    out = model.loss(x)
    torch.testing.assert_close(out["nelbo"], out["distortion"] + out["rate"])
    torch.testing.assert_close(out["elbo"], -out["nelbo"])
    torch.testing.assert_close(out["loss"], out["nelbo"])  # kl_weight 1, no free bits
    half = model.loss(x, ctx=LossContext(kl_weight=0.0))
    assert half["loss"] < half["nelbo"]


def test_free_bits_floor_the_rate_penalty():
    model = build_model(ModelConfig(latent_dim=4, net=NetConfig(hidden=[16])), (6,))
    x = torch.randn(8, 6)
    torch.manual_seed(1)
    out = model.loss(x, ctx=LossContext(free_bits=5.0))
    torch.manual_seed(1)
    plain = model.loss(x)
    assert out["loss"] >= plain["distortion"] + 4 * 5.0 - 1e-5


def test_reconstruct_decodes_the_posterior_mean_and_sample_decodes_prior_draws():
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=2, net=NetConfig(body="conv", channels=[4, 8], kernel=3)), (3, 12, 10))
    x = torch.rand(4, 3, 12, 10)
    x_hat = model.reconstruct(x)  # E[x | z = mu(x)]: deterministic, in [0, 1] for a Bernoulli
    assert x_hat.shape == (4, 3, 12, 10) and torch.equal(x_hat, model.reconstruct(x))
    torch.testing.assert_close(x_hat, torch.sigmoid(model.decoder(model.encode(x).mu)[:, 0]))
    torch.manual_seed(1)
    means = model.sample(5)  # decoder means of z ~ N(0, I)
    torch.manual_seed(1)
    z = torch.randn(5, 2)
    torch.testing.assert_close(means, model.decode(z).mean)
    assert ((means > 0) & (means < 1)).all()
    draws = model.sample(5, mean=False)
    assert set(draws.unique().tolist()) <= {0.0, 1.0}  # Bernoulli draws are binary
    cold = model.sample(3, temperature=0.0)  # T = 0: every draw is the prior mode z = 0
    torch.testing.assert_close(cold, model.decode(torch.zeros(3, 2)).mean)
