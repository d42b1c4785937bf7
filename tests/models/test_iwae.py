"""IWAE (Burda et al. 2015): L_1 is the ELBO in expectation, L_k grows with k towards log p(x), and
the training objective is -logmeanexp of the model's own importance weights."""

from __future__ import annotations

import math

import pytest
import torch

from vaekit.config import from_dict
from vaekit.data import load_data
from vaekit.models import LossContext, ModelConfig, build_model
from vaekit.models.iwae import log_mean_exp

from ..ppca import linear_gaussian_vae


def as_iwae(vae, k: int):
    """An ``iwae`` model with the weights of ``vae`` (same architecture, other objective)."""
    cfg = {"name": "iwae", "k": k, "latent_dim": vae.latent_dim, "likelihood": vae.config.likelihood,
           "sigma": vae.config.sigma, "net": {"body": "mlp", "hidden": vae.config.net.hidden}}
    model = build_model(from_dict(ModelConfig, cfg), vae.sample_shape).to(next(vae.parameters()).dtype)
    model.load_state_dict(vae.state_dict())
    return model


def test_iwae_with_k1_equals_the_elbo_in_expectation():
    torch.manual_seed(0)
    vae, _ = linear_gaussian_vae(exact=False)
    iwae = as_iwae(vae, k=1)
    x = vae.sample_x(4).repeat(5000, 1)  # (20000, d)
    with torch.no_grad():
        bound = -iwae.loss(x)["loss"]  # L_1, Monte Carlo KL
        elbo = vae.loss(x)["elbo"]  # closed-form KL
        spread = vae.log_weights(x, k=1)[0].std()
    assert abs(bound - elbo) < 4 * spread / math.sqrt(len(x))


def test_bound_grows_with_k_towards_log_px():
    torch.manual_seed(0)
    vae, log_px = linear_gaussian_vae(exact=False)
    x = vae.sample_x(16)
    with torch.no_grad():
        w = vae.log_weights(x.repeat(200, 1), k=100).view(100, 200, 16)  # 200 independent draws of k = 100
    bounds = [log_mean_exp(w[:k]).mean(0) for k in (1, 10, 100)]  # (16,) each, averaged over draws
    gaps = [(log_px(x) - b).mean().item() for b in bounds]
    assert gaps[0] > gaps[1] > gaps[2] > -0.01
    assert gaps[2] < 0.3 * gaps[0]


def test_bound_grows_with_k_on_a_trained_model(tiny_run):
    torch.manual_seed(0)
    splits, _ = load_data(tiny_run.config.data)
    x = tiny_run.preprocessor(splits.test.x[:100])
    with torch.no_grad():
        w = tiny_run.model.log_weights(x.repeat(20, 1, 1, 1), k=50).view(50, 20, 100)
    l1, l5, l50 = (log_mean_exp(w[:k]).mean(1) for k in (1, 5, 50))  # (20,): one bound per draw
    for small, large in ((l1, l5), (l5, l50)):
        gain = large - small
        assert gain.mean() > 4 * gain.std() / math.sqrt(len(gain)) > 0


@pytest.mark.parametrize("name,extra", [("iwae", {}), ("hierarchical_iwae", {"lower_latent_dims": [4]})])
def test_objective_is_minus_logmeanexp_of_the_models_importance_weights(name, extra):
    cfg = from_dict(ModelConfig, {"name": name, "k": 7, "latent_dim": 3, "net": {"hidden": [16]}, **extra})
    model = build_model(cfg, (10,))
    x = torch.rand(5, 10).round()
    torch.manual_seed(1)
    out = model.loss(x, ctx=LossContext())
    torch.manual_seed(1)
    w = model.log_weights(x, k=7)  # (7, 5)
    torch.testing.assert_close(out["loss"], -log_mean_exp(w).mean())
    torch.testing.assert_close(out["iwae_bound"], log_mean_exp(w).mean())
    torch.testing.assert_close(out["nelbo"], -w.mean())  # the reported ELBO is the average over the k draws
