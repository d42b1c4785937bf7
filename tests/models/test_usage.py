"""Known answers for the latent-usage helpers: active units (Burda et al. 2015) and KL per dimension."""

from __future__ import annotations

import pytest
import torch

from vaekit.errors import DataError
from vaekit.models import ModelConfig, build_model
from vaekit.models.usage import active_units, kl_per_dim
from vaekit.nets import NetConfig


def test_active_units_count_dimensions_whose_posterior_mean_varies_over_the_data():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(5000, 1, generator=g)
    mu = torch.cat([base, 0.5 * base, 0.05 * base, torch.full((5000, 1), 3.0)], 1)  # variances 1, .25, .0025, 0
    au = active_units(mu)
    assert au["active_units"] == 2 and au["threshold"] == 0.01
    assert au["active"].tolist() == [True, True, False, False]
    assert au["mean_variance"] == pytest.approx([1.0, 0.25, 0.0025, 0.0], abs=0.1 * 0.25)
    assert active_units(mu, threshold=0.001)["active_units"] == 3
    with pytest.raises(DataError):
        active_units(mu[:1])


def test_kl_per_dim_is_the_mean_closed_form_kl_in_any_batch_size():
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=3, net=NetConfig(hidden=[16])), (10,)).eval()
    x = torch.rand(23, 10)
    q = model.encode(x)
    expected = (0.5 * (q.mu ** 2 + q.logvar.exp() - 1 - q.logvar)).mean(0)  # Kingma & Welling 2014, App. B
    assert torch.allclose(kl_per_dim(model, x), expected, atol=1e-6)
    assert torch.allclose(kl_per_dim(model, x, batch_size=7), expected, atol=1e-6)
    assert (expected > 0).all()
