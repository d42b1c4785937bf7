"""beta-VAE: beta scales the rate in nats per example; the capacity objective drives the KL to C."""

from __future__ import annotations

import json

import pytest
import torch

import vaekit
from vaekit.config import from_dict
from vaekit.models import LossContext, ModelConfig, build_model


def beta_vae(**opts):
    cfg = from_dict(ModelConfig, {"name": "beta_vae", "latent_dim": 3, "net": {"hidden": [16]}, **opts})
    return build_model(cfg, (1, 6, 6))


def seeded_loss(model, x, ctx):
    torch.manual_seed(5)
    return model.loss(x, ctx=ctx)


def test_beta_multiplies_the_summed_kl():
    model, x = beta_vae(beta=4.0), torch.rand(8, 1, 6, 6)
    out = seeded_loss(model, x, LossContext(kl_weight=0.5))
    torch.testing.assert_close(out["loss"], out["distortion"] + 0.5 * 4.0 * out["rate"])
    torch.testing.assert_close(out["nelbo"], out["distortion"] + out["rate"])  # reported terms stay the ELBO's


def test_capacity_schedule_and_penalty():
    model, x = beta_vae(capacity_max=10.0, capacity_steps=100, gamma=7.0), torch.rand(8, 1, 6, 6)
    assert [model.capacity(s) for s in (0, 50, 100, 1000)] == [0.0, 5.0, 10.0, 10.0]
    out = seeded_loss(model, x, LossContext(step=50))
    torch.testing.assert_close(out["loss"], out["distortion"] + 7.0 * (out["rate"] - 5.0).abs())


@pytest.mark.parametrize("capacity", [2.0, 6.0])
def test_capacity_controlled_beta_vae_drives_kl_towards_c(tmp_path, capacity):
    run = vaekit.train({"out_dir": str(tmp_path), "data": {"spec": "digits"},
                        "model": {"name": "beta_vae", "latent_dim": 8, "net": {"hidden": [64]},
                                  "capacity_max": capacity, "capacity_steps": 200, "gamma": 30.0},
                        "train": {"epochs": 20, "batch_size": 64, "lr": 2e-3, "progress": False}})
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] > 200 * 1.5  # C reached C_max well before the end
    late_kl = sum(r["val_rate"] for r in rows[-5:]) / 5  # held-out KL, nats per example
    assert abs(late_kl - capacity) < 0.5
