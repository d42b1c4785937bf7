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
def test_every_model_has_finite_elbo_terms(variant):
    model, x, y = make(variant, "bernoulli", "mlp-image")
    terms = elbo_per_example(model, torch.bernoulli(x), y, batch_size=4)
    assert terms["log_px"].shape == (6,) and terms["mu"].shape == (6, model.latent_dim)
    assert all(torch.isfinite(t).all() for t in terms.values())
