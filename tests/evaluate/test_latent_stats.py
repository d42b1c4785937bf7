"""Known answers for active units (Burda et al. 2015), KL per dimension and the linear probe."""

from __future__ import annotations

import pytest
import torch

from vaekit.errors import DataError
from vaekit.evaluate.latent_stats import active_units, kl_per_dim, linear_probe, posterior_means
from vaekit.models import ModelConfig, build_model
from vaekit.nets import NetConfig


def test_active_units_count_dimensions_whose_posterior_mean_varies_over_the_data():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(5000, 1, generator=g)
    mu = torch.cat([base, 0.5 * base, 0.05 * base, torch.full((5000, 1), 3.0)], 1)  # variances 1, .25, .0025, 0
    au = active_units(mu)
    assert au["active_units"] == 2 and au["threshold"] == 0.01
    assert au["mean_variance"] == pytest.approx([1.0, 0.25, 0.0025, 0.0], abs=0.1 * 0.25)
    assert active_units(mu, threshold=0.001)["active_units"] == 3
    with pytest.raises(DataError):
        active_units(mu[:1])


def test_kl_per_dim_is_the_mean_over_examples():
    kl = torch.tensor([[1.0, 0.0, 2.0], [3.0, 0.0, 4.0]])
    assert kl_per_dim(kl) == [2.0, 0.0, 3.0]


def test_linear_probe_is_perfect_on_separable_codes_and_near_chance_on_noise():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(600) % 3
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    z = centers[y] + torch.randn(600, 2, generator=g)
    good = linear_probe(z[:400], y[:400], z[400:], y[400:])
    assert good["accuracy"] == 1.0 and good["n_fit"] == 400 and good["n_eval"] == 200
    noise = torch.randn(600, 5, generator=g)
    bad = linear_probe(noise[:400], y[:400], noise[400:], y[400:])
    assert bad["accuracy"] < 0.5 and bad["chance"] == pytest.approx(67 / 200)
    with pytest.raises(DataError):
        linear_probe(z[:10], torch.zeros(10, dtype=torch.long), z, y)


def test_posterior_means_are_the_encoder_means_in_any_batch_size():
    model = build_model(ModelConfig(latent_dim=3, net=NetConfig(hidden=[8])), (5,))
    x = torch.rand(11, 5)
    torch.testing.assert_close(posterior_means(model, x, batch_size=4), model.encode(x).mean.double())
