"""Post-hoc priors on the aggregate posterior: fit, cache (safetensors + JSON), reuse, refit on new weights."""

from __future__ import annotations

import pytest
import torch

from vaekit.distributions import FullCovarianceMixture, GaussianMixture
from vaekit.errors import ConfigError
from vaekit.models import MODELS, build_model
from vaekit.nets import NetConfig
from vaekit.posthoc import aggregate_prior, fit_gmm, training_means


def test_full_covariance_mixture_matches_torch():
    from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

    g = torch.Generator().manual_seed(0)
    a = torch.randn(2, 3, 3, generator=g)
    tril = torch.linalg.cholesky(a @ a.transpose(1, 2) + 0.5 * torch.eye(3))
    w, mu = torch.tensor([0.3, 0.7]), torch.randn(2, 3, generator=g)
    mix = FullCovarianceMixture(w, mu, tril)
    ref = MixtureSameFamily(Categorical(probs=w), MultivariateNormal(mu, scale_tril=tril))
    z = torch.randn(5, 4, 3, generator=g)
    torch.testing.assert_close(mix.log_prob(z), ref.log_prob(z), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mix.mean, ref.mean)
    torch.testing.assert_close(mix.stddev, ref.stddev)
    draws = mix.sample(100_000)
    torch.testing.assert_close(draws.mean(0), ref.mean, atol=0.03, rtol=0)


def test_fit_recovers_well_separated_clusters():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-5.0, 0.0], [5.0, 0.0], [0.0, 6.0]], dtype=torch.float64)
    mu = torch.cat([c + 0.3 * torch.randn(400, 2, generator=g, dtype=torch.float64) for c in centres])
    for covariance in ("full", "diag"):
        tensors, facts = fit_gmm(mu, 3, covariance, seed=0)
        assert facts["converged"] and facts["n_fit"] == 1200
        found = tensors["means"][tensors["means"][:, 1].argsort()]  # the cluster at y = 6 last
        assert (found[:2, 0].sort().values - torch.tensor([-5.0, 5.0])).abs().max() < 0.1
        torch.testing.assert_close(tensors["weights"], torch.full((3,), 1 / 3), atol=1e-3, rtol=0)


def test_aggregate_prior_is_cached_in_the_run_and_follows_the_weights(tiny_run):
    first = aggregate_prior(tiny_run, n_components=3)
    assert first.fitted and first.path.parent == tiny_run.path / "priors"
    assert first.path.with_suffix(".json").is_file() and isinstance(first.distribution, FullCovarianceMixture)
    again = aggregate_prior(tiny_run, n_components=3)
    assert not again.fitted and torch.equal(again.distribution.mu, first.distribution.mu)
    means = training_means(tiny_run, 20000, seed=0)
    assert means.shape == (tiny_run.info["n_train"], tiny_run.model.latent_dim)
    torch.manual_seed(0)
    x = tiny_run.model.sample(6, prior=again.distribution)
    assert x.shape == (6, 1, 8, 8)
    diag = aggregate_prior(tiny_run, n_components=2, covariance="diag")
    assert diag.fitted and isinstance(diag.distribution, GaussianMixture)
    state = {k: v.clone() for k, v in tiny_run.model.state_dict().items()}
    try:
        with torch.no_grad():
            tiny_run.model.encoder.head.bias.add_(1.0)
        assert aggregate_prior(tiny_run, n_components=3).fitted  # other weights: fitted again
    finally:
        tiny_run.model.load_state_dict(state)
        aggregate_prior(tiny_run, n_components=3, refit=True)


def test_discrete_codes_have_no_aggregate_prior(tiny_run):
    vq = build_model(MODELS.get("vq_vae").Config(net=NetConfig(hidden=[8]), code_grid=[1, 2], codebook_size=4),
                     (1, 8, 8))
    run = type(tiny_run)(tiny_run.path, tiny_run.config, tiny_run.info, vq, tiny_run.preprocessor)
    with pytest.raises(ConfigError, match="continuous latent"):
        aggregate_prior(run)
