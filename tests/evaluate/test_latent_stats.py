"""Known answers for the linear probe and posterior means."""

from __future__ import annotations

import pytest
import torch

from vaekit.errors import DataError
from vaekit.evaluate.latent_stats import linear_probe, posterior_means, probe_possible
from vaekit.models import ModelConfig, build_model
from vaekit.nets import NetConfig


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


def test_linear_probe_fits_and_scores_the_labelled_examples_only():
    g = torch.Generator().manual_seed(0)
    y_true = torch.arange(600) % 2
    z = torch.tensor([[0.0, 0.0], [10.0, 0.0]])[y_true] + torch.randn(600, 2, generator=g)
    y = torch.where(torch.arange(600) % 5 == 0, -1, y_true)  # 20% unlabelled, from both classes
    out = linear_probe(z[:400], y[:400], z[400:], y[400:])
    assert out["accuracy"] == 1.0  # -1 as a class: its 40 eval rows, in both clusters, would score as wrong
    assert (out["n_fit"], out["n_eval"], out["chance"]) == (320, 160, 0.5)
    assert probe_possible(y[:400], y[400:]) and not probe_possible(torch.tensor([0, -1] * 5), y)
    with pytest.raises(DataError, match="at least 2 classes among its 5 labelled"):
        linear_probe(z[:10], torch.tensor([0, -1] * 5), z, y)  # one class beside the unlabelled ones
    assert not probe_possible(y[:400], torch.full((10,), -1))


def test_posterior_means_are_the_encoder_means_in_any_batch_size():
    model = build_model(ModelConfig(latent_dim=3, net=NetConfig(hidden=[8])), (5,))
    x = torch.rand(11, 5)
    torch.testing.assert_close(posterior_means(model, x, batch_size=4), model.encode(x).mean.double())
