"""beta-TCVAE's minibatch-weighted-sampling TC estimate and FactorVAE's discriminator estimate,
checked against Gaussians whose total correlation is known: TC = -0.5 log(1 - rho^2) in 2-D."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Categorical, MixtureSameFamily, Normal

import vaekit
from vaekit.config import from_dict
from vaekit.distributions import DiagonalGaussian
from vaekit.models import ElboTerms, LossContext, ModelConfig, build_model
from vaekit.models.factor_vae import permute_dims
from vaekit.models.tcvae import total_correlation


def correlated_posteriors(m: int, rho: float, var: float = 0.05, seed: int = 0):
    """(z, q): M posteriors N(mu_j, var I) with means ~ N(0, [[1, rho], [rho, 1]]) and one draw each.

    Their aggregate q(z) is close to N(0, Sigma + var I), whose TC is -0.5 log(1 - rho'^2),
    rho' = rho / (1 + var).
    """
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(m, 2, generator=g, dtype=torch.float64)
    mu = torch.stack([e[:, 0], rho * e[:, 0] + math.sqrt(1 - rho ** 2) * e[:, 1]], dim=1)
    q = DiagonalGaussian(mu, torch.full_like(mu, math.log(var)))
    return mu + math.sqrt(var) * torch.randn(m, 2, generator=g, dtype=torch.float64), q


def gaussian_tc(rho: float, var: float = 0.05) -> float:
    r = rho / (1 + var)
    return -0.5 * math.log(1 - r ** 2)


def plug_in_tc(z: torch.Tensor, q: DiagonalGaussian) -> torch.Tensor:
    """TC of the batch's own mixture (1/M) sum_j q(z | x_j), with torch.distributions."""
    mix = Categorical(logits=torch.zeros(len(z), dtype=z.dtype))
    joint = MixtureSameFamily(mix, torch.distributions.Independent(Normal(q.mu, q.std), 1))
    marginals = [MixtureSameFamily(mix, Normal(q.mu[:, d], q.std[:, d])) for d in range(z.shape[1])]
    log_prod = sum(marg.log_prob(z[:, d]) for d, marg in enumerate(marginals))
    return (joint.log_prob(z) - log_prod).mean()


@pytest.mark.parametrize("n_train", [0, 50_000])
def test_mws_estimate_is_the_plug_in_estimate_plus_its_known_offset(n_train):
    z, q = correlated_posteriors(300, rho=0.5)
    z_dim, m = z.shape[1], z.shape[0]
    offset = (z_dim - 1) * math.log(max(n_train, m))  # log(NM) instead of log(M) in each log-density
    torch.testing.assert_close(total_correlation(z, q, n_train), plug_in_tc(z, q) + offset)


@pytest.mark.parametrize("rho", [0.0, 0.8])
def test_mws_recovers_the_total_correlation_of_a_gaussian(rho):
    z, q = correlated_posteriors(3000, rho)
    estimate = total_correlation(z, q, n_train=len(z)) - math.log(len(z))  # D = 2: offset log N
    assert abs(estimate - gaussian_tc(rho)) < 0.08


def test_beta_tcvae_adds_beta_minus_one_tc_to_the_elbo():
    cfg = from_dict(ModelConfig, {"name": "beta_tcvae", "beta": 6.0, "latent_dim": 3, "net": {"hidden": [16]}})
    model, x = build_model(cfg, (10,)), torch.rand(16, 10)
    torch.manual_seed(2)
    out = model.loss(x, ctx=LossContext(kl_weight=0.5, n_train=1000))
    torch.manual_seed(2)
    terms = model.elbo_terms(x)
    tc = total_correlation(terms.z, terms.posterior, 1000)
    torch.testing.assert_close(out["loss"], out["distortion"] + 0.5 * (out["rate"] + 5.0 * tc))


def test_permute_dims_keeps_each_marginal_and_breaks_the_joint():
    torch.manual_seed(0)
    a = torch.randn(4000, 1)
    z = torch.cat([a, a, -a], dim=1)  # perfectly dependent dimensions
    p = permute_dims(z)
    for d in range(3):
        torch.testing.assert_close(p[:, d].sort().values, z[:, d].sort().values)
    assert torch.corrcoef(p.T).fill_diagonal_(0).abs().max() < 0.1


def factor_vae(hidden=(64, 64)):
    cfg = from_dict(ModelConfig, {"name": "factor_vae", "gamma": 3.0, "latent_dim": 2,
                                  "net": {"hidden": [8]}, "disc_hidden": list(hidden)})
    return build_model(cfg, (4,)).double()


def train_discriminator(model, z: torch.Tensor, steps: int = 400) -> None:
    """Fit D on batches of ``z`` through the model's own hooks (regularizer keeps z, auxiliary_loss)."""
    opt = torch.optim.Adam(model.auxiliary_parameters(), lr=1e-3)
    for _ in range(steps):
        batch = z[torch.randint(0, len(z), (256,))]
        terms = ElboTerms(log_px=batch.new_zeros(256), kl=torch.zeros_like(batch), z=batch, posterior=None)
        model.regularizer(terms, LossContext())
        opt.zero_grad()
        model.auxiliary_loss().backward()
        opt.step()


@pytest.mark.parametrize("rho", [0.0, 0.9])
def test_factor_vae_discriminator_estimates_the_total_correlation(rho):
    torch.manual_seed(0)
    z, _ = correlated_posteriors(20_000, rho, var=1e-4)
    model = factor_vae()
    train_discriminator(model, z)
    with torch.no_grad():
        estimate = model.tc_estimate(z).item()
    assert abs(estimate - gaussian_tc(rho, 1e-4)) < 0.25


def test_factor_vae_loss_and_training_updates_the_discriminator(tmp_path):
    model, x = factor_vae(), torch.rand(8, 4, dtype=torch.float64)
    assert model.auxiliary_loss() is None  # nothing to learn from before a loss
    torch.manual_seed(1)
    out = model.loss(x, ctx=LossContext(kl_weight=0.5))
    torch.manual_seed(1)
    terms = model.elbo_terms(x)
    torch.testing.assert_close(out["loss"], out["distortion"] + 0.5 * (out["rate"] + 3.0 * model.tc_estimate(terms.z)))
    run = vaekit.train({"out_dir": str(tmp_path), "model": {"name": "factor_vae", "latent_dim": 3,
                                                            "net": {"hidden": [16]}, "disc_hidden": [16]},
                        "train": {"epochs": 1, "progress": False}})
    torch.manual_seed(0)  # same seed as training: the model was built right after seeding
    fresh = build_model(run.model.config, run.model.sample_shape, run.model.n_classes)
    changed = [not torch.equal(a, b) for a, b in zip(fresh.discriminator.parameters(), run.model.discriminator.parameters())]
    assert all(changed)
