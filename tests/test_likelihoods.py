import math

import pytest
import torch
from torch.distributions import Normal

from tests.tabular.helpers import codec_for_width
from vaekit.tabular.likelihood import ColumnLayout
from vaekit.likelihoods import (LIKELIHOODS, Bernoulli, DiscretizedLogistic, DiscretizedLogisticMixture, Gaussian,
                                GaussianLearned, log_discretized_logistic)


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
    if getattr(cls, "needs_columns", False):  # the tabular likelihood reads a column layout of the width
        opts["columns"] = ColumnLayout.from_codec(codec_for_width(16))
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


# --- discretized logistic (Salimans et al. 2017) ----------------------------------------------------
GRID = torch.arange(256, dtype=torch.float64) / 255  # the 256 values of an 8-bit pixel


def _all_values(lik_params: torch.Tensor, cls, options: dict) -> torch.Tensor:
    """P(x = k/255) for k = 0..255 of one pixel whose params are ``(P,)``: returns ``(256,)``."""
    params = lik_params.view(1, -1, 1).expand(256, -1, 1)  # the same pixel distribution 256 times
    return cls(params, options).log_prob(GRID.view(256, 1)).exp()


@pytest.mark.parametrize("mu,log_scale", [(0.5, -2.0), (0.0, -7.0), (1.0, -7.0), (0.37, -5.0),
                                          (0.2, 3.0), (-4.0, -6.0), (5.0, -1.0), (0.5, -9.0)])
def test_discretized_logistic_sums_to_one_over_the_256_values(mu, log_scale):
    p = _all_values(torch.tensor([mu, log_scale], dtype=torch.float64), DiscretizedLogistic, {})
    assert (p >= 0).all()
    torch.testing.assert_close(p.sum(), torch.tensor(1.0, dtype=torch.float64), rtol=0, atol=1e-9)


def test_discretized_logistic_mixture_sums_to_one_and_mixes_components():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        logits, mu, log_scale = torch.randn(3, generator=g), torch.rand(3, generator=g), -4 * torch.rand(3, generator=g)
        params = torch.cat([logits, mu, log_scale]).double()
        p = _all_values(params, DiscretizedLogisticMixture, {"n_mix": 3})
        torch.testing.assert_close(p.sum(), torch.tensor(1.0, dtype=torch.float64), rtol=0, atol=1e-9)
        weights = torch.softmax(logits.double(), 0)
        parts = [_all_values(torch.stack([mu[i], log_scale[i]]).double(), DiscretizedLogistic, {}) for i in range(3)]
        torch.testing.assert_close(p, sum(w * q for w, q in zip(weights, parts)))


def test_discretized_logistic_matches_the_sigmoid_difference_and_open_edge_bins():
    mu, s = 0.4, 0.1
    cdf = lambda t: torch.sigmoid((t - mu) / s)  # noqa: E731
    x = GRID[[0, 1, 100, 254, 255]]
    ref = torch.stack([cdf(x[0] + 0.5 / 255), cdf(x[1] + 0.5 / 255) - cdf(x[1] - 0.5 / 255),
                       cdf(x[2] + 0.5 / 255) - cdf(x[2] - 0.5 / 255),
                       cdf(x[3] + 0.5 / 255) - cdf(x[3] - 0.5 / 255), 1 - cdf(x[4] - 0.5 / 255)])
    lp = log_discretized_logistic(x, torch.full_like(x, mu), torch.full_like(x, math.log(s)))
    torch.testing.assert_close(lp.exp(), ref)


def test_discretized_logistic_is_accurate_and_differentiable_far_in_the_tails():
    x = GRID.float()
    mu = torch.full_like(x, 0.1, requires_grad=True)
    log_scale = torch.full_like(x, -7.0)
    lp32 = log_discretized_logistic(x, mu, log_scale)
    lp64 = log_discretized_logistic(GRID, mu.detach().double(), log_scale.double())
    assert lp64.min() < -500  # a thousand scales away: the naive sigmoid difference would be log(0)
    torch.testing.assert_close(lp32.double(), lp64, rtol=1e-5, atol=1e-3)
    lp32.sum().backward()
    assert torch.isfinite(mu.grad).all()


def test_discretized_logistic_single_equals_one_component_mixture_and_samples_on_the_grid():
    params = torch.randn(4, 2, 1, 5, 5)
    x = torch.randint(0, 256, (4, 1, 5, 5)).float() / 255
    single, mixture = DiscretizedLogistic(params, {"n_mix": 7}), DiscretizedLogisticMixture(params, {"n_mix": 1})
    torch.testing.assert_close(single.log_prob(x), mixture.log_prob(x))
    assert DiscretizedLogistic.n_params({"n_mix": 7}) == 2 and DiscretizedLogisticMixture.n_params({"n_mix": 4}) == 12
    draws = DiscretizedLogisticMixture(torch.randn(64, 12, 3, 4, 4), {"n_mix": 4}).sample()
    assert draws.min() >= 0 and draws.max() <= 1
    torch.testing.assert_close(draws * 255, (draws * 255).round())


def test_support_errors_name_what_each_likelihood_needs():
    from vaekit.likelihoods import support_error

    unit, wide = torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4) * 255
    grid = torch.randint(0, 256, (2, 1, 4, 4)) / 255.0
    assert support_error("bernoulli", [unit]) is None
    assert "needs values in [0, 1]" in support_error("bernoulli", [unit, wide])  # any batch outside fails
    assert support_error("logistic", [grid]) is None and support_error("logistic_mixture", [grid]) is None
    assert "8-bit" in support_error("logistic", [unit])  # [0, 1] but off the k/255 grid
    assert support_error("gaussian", [wide]) is None and support_error("gaussian_learned", [-wide]) is None


def test_auto_takes_the_sources_choice_else_decides_by_the_range():
    from vaekit.likelihoods import choose

    assert choose([torch.rand(3, 5)]) == "bernoulli"
    assert choose([torch.rand(3, 5), torch.randn(3, 5) * 3]) == "gaussian_learned"
    assert choose([torch.rand(3, 5)], hint="gaussian") == "gaussian"
