"""The importance-sampled likelihood over every registered model (tiny configs of the model contract)."""

from __future__ import annotations

import pytest
import torch

from vaekit.evaluate.likelihood import elbo_per_example, iw_log_likelihood, per_sample_elements

from ..models.test_contract import TINY, make


@pytest.mark.parametrize("variant", sorted(TINY))
def test_every_model_is_chunk_invariant(variant):
    model, x, y = make(variant, "bernoulli", "mlp-image")
    x = torch.bernoulli(x)
    whole = iw_log_likelihood(model, x, y, k=30)
    chunked = iw_log_likelihood(model, x, y, k=30, budget=per_sample_elements(model, x, y) * 7)
    assert torch.isfinite(whole).all()
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-4)  # float32 matrix products


@pytest.mark.parametrize("variant", sorted(TINY))
def test_every_models_elbo_is_a_lower_bound_below_its_iwae_estimate(variant):
    """log p(x) >= IWAE_K >= ELBO in expectation (Burda et al. 2015, Theorem 1): the per-example ELBO
    terms must sit below the K = 200 estimate (a wrong sign or a missing KL term breaks this)."""
    model, x, y = make(variant, "bernoulli", "mlp-image")
    x = torch.bernoulli(x)
    terms = elbo_per_example(model, x, y, batch_size=4)
    assert terms["log_px"].shape == (6,) and terms["mu"].shape == (6, model.latent_dim)
    assert (terms["log_px"] < 0).all()  # Bernoulli mass
    if model.capabilities.kl_per_dim:  # closed-form KL >= 0 (a one-sample Monte Carlo rate may dip below)
        assert (terms["kl"].sum(1) >= 0).all()
    draws = [elbo_per_example(model, x, y, seed=s) for s in range(20)]
    elbo = torch.stack([d["log_px"] - d["kl"].sum(1) for d in draws]).mean(0)  # (6,) over 20 posterior draws
    iw = iw_log_likelihood(model, x, y, k=200)
    assert (iw > elbo - 0.5).all()
    if model.capabilities.stochastic_posterior:
        assert iw.mean() > elbo.mean()
    else:  # a point mass: every importance weight is the same, the bound is the ELBO
        torch.testing.assert_close(iw, elbo)
