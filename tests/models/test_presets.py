"""Every named preset builds its model; overrides never leak back into the registered presets."""

from __future__ import annotations

import copy

import pytest
import torch

from vaekit.config import to_dict
from vaekit.models import PRESETS, build_model
from vaekit.train.config import build_run_config


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        out.update(_flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value})
    return out


@pytest.mark.parametrize("name", PRESETS.names())
def test_every_preset_builds_the_model_it_names(name):
    cfg = build_run_config(name)
    model = build_model(cfg.model, (1, 28, 28) if cfg.model.net.body == "mlp" else (1, 64, 64), 10)
    resolved = _flatten({"model": to_dict(cfg.model), "train": to_dict(cfg.train)})  # nested nets too (m1_net)
    for key, value in _flatten(PRESETS.get(name)).items():  # every preset value reaches the model's config
        assert resolved[key] == value, key
    width = getattr(model, "n_codes", 1) * cfg.model.latent_dim  # VQ-VAE: a map of codes latent_dim wide
    assert model.config.name == cfg.model.name and model.latent_dim == width


def test_the_pytorch_examples_preset_is_their_architecture():
    """784-400-20 with ReLU: fc1 784->400, fc21/fc22 400->20, fc3 20->400, fc4 400->784 (652,824 weights)."""
    cfg = build_run_config("mlp-784-400-20")
    model = build_model(cfg.model, (1, 28, 28), None)
    linears = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears == [(784, 400), (400, 40), (20, 400), (400, 784)]
    assert sum(p.numel() for p in model.parameters()) == 652_824
    assert (cfg.train.lr, cfg.train.batch_size) == (1e-3, 128)


def test_overrides_do_not_change_the_registered_preset():
    before = copy.deepcopy(PRESETS.get("iwae-1layer"))
    cfg = build_run_config("iwae-1layer", None, [("model.name", "beta_vae"), ("model.beta", 4.0),
                                                 ("model.net.hidden", [8])])
    assert cfg.model.name == "beta_vae" and cfg.model.net.hidden == [8]
    assert PRESETS.get("iwae-1layer") == before
    assert build_run_config("iwae-1layer", None, [("model.name", "factor_vae")]).model.name == "factor_vae"
