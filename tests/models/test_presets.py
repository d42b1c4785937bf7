"""Every named preset builds its model; overrides never leak back into the registered presets."""

from __future__ import annotations

import copy

import pytest

from vaekit.models import PRESETS, build_model
from vaekit.train.config import build_run_config


@pytest.mark.parametrize("name", PRESETS.names())
def test_every_preset_builds_its_model(name):
    cfg = build_run_config(name)
    model = build_model(cfg.model, (1, 28, 28) if cfg.model.net.body == "mlp" else (1, 64, 64), 10)
    assert model.config.name == PRESETS.get(name)["model"]["name"]


def test_overrides_do_not_change_the_registered_preset():
    before = copy.deepcopy(PRESETS.get("iwae-1layer"))
    cfg = build_run_config("iwae-1layer", None, [("model.name", "beta_vae"), ("model.beta", 4.0),
                                                 ("model.net.hidden", [8])])
    assert cfg.model.name == "beta_vae" and cfg.model.net.hidden == [8]
    assert PRESETS.get("iwae-1layer") == before
    assert build_run_config("iwae-1layer", None, [("model.name", "factor_vae")]).model.name == "factor_vae"
