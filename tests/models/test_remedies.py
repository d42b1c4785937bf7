"""Posterior-collapse remedies reach every model: the KL weight (warm-up, cyclical, beta schedules)
and free bits change each model's objective as documented, and free bits keep units active."""

from __future__ import annotations

import json

import pytest
import torch

import vaekit
from vaekit.errors import ConfigError
from vaekit.models import LossContext
from vaekit.models.iwae import ImportanceWeighted, log_mean_exp

from .test_contract import TINY, make

#: Multiplier of (sum_g max(lambda, KL_g) - KL) in each model's loss (capacity: gamma, C = 0 at step 0).
RATE_SCALE = {"beta_vae": TINY["beta_vae"]["beta"], "beta_vae_capacity": TINY["beta_vae_capacity"]["gamma"]}


def seeded(model, x, y, **ctx):
    torch.manual_seed(11)
    return model.loss(x, y, LossContext(n_train=100, **ctx))


def iwae_reference(model, x, y, kl_weight: float) -> torch.Tensor:
    """-logmeanexp(log p(x|z) + w [log p(z) - log q(z|x)]) on the draws ``seeded`` makes."""
    torch.manual_seed(11)
    log_px, log_ratio = model.importance_terms(x, y, model.config.k)
    return -log_mean_exp(log_px + kl_weight * log_ratio.sum(-1)).mean()


def remedied_kl(model, x, y) -> torch.Tensor:
    """``(B, U)``: the KL columns the KL weight and free bits act on, from the draws ``seeded`` makes:
    all of them, or a semi-supervised model's z columns (``z_columns``; m2, m1m2)."""
    torch.manual_seed(11)
    kl = model.elbo_terms(x, y).kl
    return kl[:, model.z_columns] if model.classifies else kl


def class_terms(model, x, y) -> torch.Tensor | float:
    """What a semi-supervised model's loss keeps at KL weight 0: the other KL columns (the class
    term; M1+M2's z1 term) and alpha x the classification term; 0 for the other models."""
    if not model.classifies:
        return 0.0
    torch.manual_seed(11)
    kl = model.elbo_terms(x, y).kl
    rest = kl.sum(1).mean() - remedied_kl(model, x, y).sum(1).mean()
    return rest + model.config.alpha * seeded(model, x, y)["classification"]


@pytest.mark.parametrize("variant", list(TINY))
def test_kl_weight_scales_the_rate_penalty_of_every_model(variant):
    model, x, y = make(variant, "bernoulli", "mlp-image")
    losses = {w: seeded(model, x, y, kl_weight=w) for w in (0.0, 0.3, 1.0)}
    if variant == "vq_vae":  # van den Oord et al. 2017, Eq. 3: no rate in the loss, so no KL weight either
        torch.testing.assert_close(losses[0.0]["loss"], losses[1.0]["loss"])
        assert losses[1.0]["loss"] > losses[1.0]["distortion"]  # + codebook and commitment terms
        return
    if isinstance(model, ImportanceWeighted):  # annealed bound: w scales log p(z) - log q(z|x) in each weight
        for w, out in losses.items():
            torch.testing.assert_close(out["loss"], iwae_reference(model, x, y, w))
    else:  # loss = distortion + w * regularizer (+ the terms of a class latent, at weight 1)
        torch.testing.assert_close(losses[0.0]["loss"], losses[0.0]["distortion"] + class_terms(model, x, y))
        step = losses[1.0]["loss"] - losses[0.0]["loss"]
        torch.testing.assert_close(losses[0.3]["loss"], losses[0.0]["loss"] + 0.3 * step)
    assert not torch.isclose(losses[0.0]["loss"], losses[1.0]["loss"])


@pytest.mark.parametrize("per", ["unit", "group"])
@pytest.mark.parametrize("variant", list(TINY))
def test_free_bits_floor_the_rate_of_every_model(variant, per):
    model, x, y = make(variant, "bernoulli", "mlp-image")
    if not model.capabilities.kl_per_dim:  # a Monte Carlo rate of the whole KL has no units to floor
        with pytest.raises(ConfigError, match="free bits"):
            seeded(model, x, y, free_bits=40.0, free_bits_group=1)
        return
    kl_z = remedied_kl(model, x, y)
    n_units = kl_z.shape[1]  # all stochastic layers (of z, for a model with a class latent)
    group = 1 if per == "unit" else n_units
    lam = 40.0  # nats per group: above every group's KL, so each is floored at lambda
    plain, floored = seeded(model, x, y), seeded(model, x, y, free_bits=lam, free_bits_group=group)
    # the model's own KL estimate (closed form, or Monte Carlo for IWAE); only z's for a class latent
    rate = kl_z.sum(1).mean() if model.classifies else plain["rate"]
    expected = RATE_SCALE.get(variant, 1.0) * (n_units // group * lam - rate)
    torch.testing.assert_close(floored["loss"] - plain["loss"], expected, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(floored["nelbo"], plain["nelbo"])  # reported terms are never floored


def per_unit_kl(run) -> torch.Tensor:
    """Held-out KL per latent unit (all layers), nats: ``(Z,)``."""
    from vaekit.data import load_data

    splits, pre = load_data(run.config.data)
    x = pre(splits.test.x)
    torch.manual_seed(0)
    with torch.no_grad():
        return run.model.elbo_terms(x).kl.mean(0)


@pytest.mark.parametrize("model,epochs", [({"name": "vae", "latent_dim": 12}, 8),
                                          ({"name": "hierarchical", "latent_dim": 4, "lower_latent_dims": [8]}, 12)])
def test_free_bits_keep_units_active(tmp_path, model, epochs):
    def train(**remedy):
        return vaekit.train({"out_dir": str(tmp_path), "model": {**model, "net": {"hidden": [64]}},
                             "train": {"epochs": epochs, "batch_size": 64, "lr": 2e-3, "progress": False, **remedy}})

    plain = per_unit_kl(train())
    kept = per_unit_kl(train(free_bits=0.5))
    assert plain.sum() < 2.5  # nats in all units together: (near) collapse without a remedy
    assert kept.sum() > 0.8 * 0.5 * len(kept)  # lambda = 0.5 nats per unit: close to the floor...
    assert (kept > 0.3).float().mean() >= 0.8  # ...in at least 80% of the units


@pytest.mark.parametrize("name,schedule,expected", [
    ("hierarchical_iwae", {"kl_schedule": "linear", "warmup_epochs": 2}, [0.5, 1.0]),
    ("factor_vae", {"kl_schedule": "cyclical", "n_cycles": 1, "cycle_ratio": 0.5}, [1.0, 0.0]),
])
def test_kl_schedules_drive_any_model_and_are_recorded(tmp_path, name, schedule, expected):
    model = {"name": name, "latent_dim": 3, "net": {"hidden": [16]}, **({"disc_hidden": [32]} if name == "factor_vae" else {})}
    run = vaekit.train({"out_dir": str(tmp_path), "model": model,
                        "train": {"epochs": 2, "progress": False, **schedule}})
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert [r["kl_weight"] for r in rows] == pytest.approx(expected)
    assert all(r["skipped_steps"] == 0 for r in rows)
