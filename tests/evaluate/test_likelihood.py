"""Known-answer tests of the importance-sampled log-likelihood (Burda et al. 2015) on probabilistic PCA."""

from __future__ import annotations

import math

import pytest
import torch

from ..ppca import linear_gaussian_vae
from vaekit.errors import ConfigError
from vaekit.evaluate.likelihood import (elbo_per_example, iw_log_likelihood, per_sample_elements,
                                        plan_chunks)


def imperfect_ppca(n: int = 500):
    """PPCA with an encoder that is off the true posterior (shifted means, 2x too wide): about 2 nats
    of ELBO gap. Returns (model, x (n, 6), exact log p(x) (n,))."""
    model, log_px = linear_gaussian_vae(exact=True)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        head = model.encoder.head
        head.weight[:2] += 0.2 * torch.randn(2, 6, generator=g, dtype=torch.float64)
        head.bias[2:] += 0.7  # log-variance: q is exp(0.35) = 1.4x wider than the true posterior
    x = model.sample_x(n)
    return model, x, log_px(x)


def test_iwae_matches_the_exact_ppca_log_likelihood_and_the_elbo_sits_below():
    model, x, exact = imperfect_ppca()
    estimate = iw_log_likelihood(model, x, k=1000)
    terms = elbo_per_example(model, x)
    elbo = terms["log_px"] - terms["kl"].sum(1)  # (N,)
    assert abs(estimate.mean() - exact.mean()) < 0.1
    assert elbo.mean() < exact.mean() - 1.0  # the encoder is imperfect: the gap is KL(q || p(z|x))


def test_estimate_tightens_with_k_on_ppca():
    model, x, exact = imperfect_ppca(300)
    means = [float(iw_log_likelihood(model, x, k=k).mean()) for k in (1, 10, 100, 1000)]
    assert means == sorted(means) and means[0] < means[-1] - 1.0
    assert means[-1] < float(exact.mean()) + 0.01  # still a bound (up to Monte Carlo error)


def test_k1_estimate_is_the_elbo_in_expectation():
    model, x, _ = imperfect_ppca(2000)
    terms = elbo_per_example(model, x)
    elbo = (terms["log_px"] - terms["kl"].sum(1)).mean()
    assert abs(float(iw_log_likelihood(model, x, k=1).mean() - elbo)) < 0.15


def test_same_seed_and_chunking_is_bit_identical_and_global_rng_untouched():
    model, x, _ = imperfect_ppca(100)
    state = torch.get_rng_state()
    a = iw_log_likelihood(model, x, k=200, seed=3, budget=6 * 50 * 30)
    b = iw_log_likelihood(model, x, k=200, seed=3, budget=6 * 50 * 30)
    assert torch.equal(a, b)
    assert torch.equal(state, torch.get_rng_state())
    assert not torch.equal(a, iw_log_likelihood(model, x, k=200, seed=4, budget=6 * 50 * 30))


def test_chunking_does_not_change_the_result():
    model, x, _ = imperfect_ppca(40)
    width = per_sample_elements(model, x)
    whole = iw_log_likelihood(model, x, k=500, budget=width * 40 * 500)  # one call
    for examples, samples in ((7, 500), (1, 64), (1, 333)):
        chunked = iw_log_likelihood(model, x, k=500, budget=width * examples * samples)
        torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-9)  # float64: rounding only


def test_elbo_pass_does_not_depend_on_the_batch_size():
    model, x, _ = imperfect_ppca(50)
    a, b = elbo_per_example(model, x, batch_size=7), elbo_per_example(model, x, batch_size=50)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-12)


class _Recorder(torch.nn.Module):
    """Wraps a model: records each log_weights call; constant weights c(x) make the answer exact."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model, self.calls = model, []

    def log_weights(self, x, y=None, k=1):
        self.calls.append((k, x.shape[0], x[:, 0].clone()))
        w = self.model.log_weights(x, y, k)  # (k, B): run the real model for its memory pattern
        return torch.zeros_like(w) + x.sum(1)  # log-mean-exp of a constant is the constant


def test_every_example_gets_exactly_k_samples_within_the_budget():
    model, x, _ = imperfect_ppca(50)
    rec = _Recorder(model)
    width = per_sample_elements(model, x)
    budget = width * 3 * 70
    out = iw_log_likelihood(rec, x, k=250, budget=budget)
    torch.testing.assert_close(out, x.sum(1), rtol=0, atol=1e-9)  # ragged last chunk, -log K exact
    calls = rec.calls[2:]  # the first two calls measure the per-sample width (warm-up, then hooked)
    assert all(k * b * width <= budget for k, b, _ in calls)
    counts = {}
    for k, _, first in calls:
        for value in first.tolist():
            counts[value] = counts.get(value, 0) + k
    assert sorted(counts.values()) == [250] * 50


def test_plan_chunks_respects_the_budget():
    for n, k, d, budget in [(10000, 5000, 784, 2 ** 24), (10, 5000, 784, 1000), (3, 2, 10, 10 ** 9), (5, 7, 1, 1)]:
        examples, samples = plan_chunks(n, k, d, budget)
        assert 1 <= examples <= n and 1 <= samples <= k
        assert examples * samples * d <= max(budget, d)
    assert plan_chunks(10000, 5000, 784, 2 ** 24) == (4, 5000)


def test_per_sample_elements_is_the_widest_layer():
    from vaekit.models import ModelConfig, build_model
    from vaekit.nets import NetConfig

    model = build_model(ModelConfig(latent_dim=3, net=NetConfig(hidden=[40, 120])), (1, 4, 4))
    assert per_sample_elements(model, torch.rand(5, 1, 4, 4)) == 120
    assert per_sample_elements(model, torch.rand(5, 1, 4, 4).expand(5, 1, 4, 4)) == 120


def test_nll_tightens_with_k_on_a_trained_model(tiny_run):
    ds = tiny_run_test_split(tiny_run)
    nll = [-float(iw_log_likelihood(tiny_run.model, ds.x, k=k, transform=tiny_run.preprocessor).mean())
           for k in (1, 10, 100)]
    assert nll[0] > nll[1] > nll[2]


def tiny_run_test_split(run):
    from vaekit.data import load_data

    return load_data(run.config.data)[0].test


def test_k_must_be_positive():
    model, x, _ = imperfect_ppca(5)
    with pytest.raises(ConfigError):
        iw_log_likelihood(model, x, k=0)
    assert math.isfinite(float(iw_log_likelihood(model, x, k=1).mean()))
