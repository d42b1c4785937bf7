import math

import pytest
import torch
from torch.distributions import Normal

from vaekit.likelihoods import LIKELIHOODS, Bernoulli, Gaussian, GaussianLearned


def test_bernoulli_log_prob_matches_formula_and_is_stable():
    logits = torch.tensor([[[-3.0, 0.0, 2.0]]])  # (B=1, P=1, D=3)
    x = torch.tensor([[1.0, 0.0, 1.0]])
    p = torch.sigmoid(logits[:, 0])
    ref = (x * p.log() + (1 - x) * (1 - p).log()).sum(1)
    torch.testing.assert_close(Bernoulli(logits, {}).log_prob(x), ref)
    extreme = Bernoulli(torch.tensor([[[1e4, -1e4]]]), {}).log_prob(torch.tensor([[0.0, 1.0]]))
    assert torch.isfinite(extreme).all() and extreme.item() < -1e3


def test_gaussian_fixed_variance_matches_torch():
    mu = torch.randn(4, 1, 2, 3, 3)
    x = torch.randn(4, 2, 3, 3)
    ref = Normal(mu[:, 0], 0.3).log_prob(x).sum((1, 2, 3))
    torch.testing.assert_close(Gaussian(mu, {"sigma": 0.3}).log_prob(x), ref)


def test_gaussian_learned_variance_matches_torch():
    params = torch.randn(4, 2, 10)
    lik = GaussianLearned(params, {})
    x = torch.randn(4, 10)
    ref = Normal(params[:, 0], torch.exp(0.5 * lik.logvar)).log_prob(x).sum(1)
    torch.testing.assert_close(lik.log_prob(x), ref)
    assert lik.sample().shape == x.shape


@pytest.mark.parametrize("name", LIKELIHOODS.names())
def test_every_likelihood_reduces_over_all_non_batch_dims(name):
    cls = LIKELIHOODS.get(name)
    opts = {"sigma": 1.0, "n_mix": 2}
    params = torch.randn(3, cls.n_params(opts), 1, 4, 4)
    x = torch.rand(3, 1, 4, 4)
    lik = cls(params, opts)
    lp = lik.log_prob(x)
    assert lp.shape == (3,) and torch.isfinite(lp).all()
    assert lik.mean.shape == x.shape and lik.sample().shape == x.shape
    flat = cls(torch.randn(3, cls.n_params(opts), 16), opts)
    assert flat.log_prob(x.reshape(3, 16)).shape == (3,)


def test_bernoulli_is_nats_per_example_summed_over_pixels():
    # 784 pixels at logit 0 cost 784 * ln 2 nats whatever x is.
    lik = Bernoulli(torch.zeros(2, 1, 1, 28, 28), {})
    torch.testing.assert_close(lik.log_prob(torch.ones(2, 1, 28, 28)), torch.full((2,), -784 * math.log(2)))
