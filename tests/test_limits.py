"""The shared limits (``vaekit.limits``): 64-bit integers, finite floats, seeds, model size, grid size."""

from __future__ import annotations

import math

import pytest

from vaekit.config import from_dict
from vaekit.errors import ConfigError
from vaekit.limits import MAX_PARAMETERS, check_int, check_real, check_seed
from vaekit.models import ModelConfig, build_model
from vaekit.train.config import RunConfig


@pytest.mark.parametrize("value, ok", [(0, True), (2**63 - 1, True), (2**63, False), (-1, False), (2**70, False),
                                       (True, False), (1.0, False), ("3", False)])
def test_seeds_are_integers_in_0_to_2_63(value, ok):
    if ok:
        assert check_seed(value) == value
    else:
        with pytest.raises(ConfigError, match="seed must be an integer"):
            check_seed(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400])
def test_reals_are_finite(value):
    with pytest.raises(ConfigError, match="finite"):
        check_real(value, "x")
    assert check_real(2, "x", 0, 3) == 2.0
    with pytest.raises(ConfigError, match=r"x must lie in \(0, 3\], got 0"):
        check_real(0, "x", 0, 3, lo_open=True)


def test_integers_fit_in_64_bits_and_their_bounds():
    assert check_int(-2**63, "n") == -2**63
    with pytest.raises(ConfigError, match="n must be an integer in"):
        check_int(2**63, "n")
    with pytest.raises(ConfigError, match=r"n must be an integer in \[1, 10\], got 11"):
        check_int(11, "n", 1, 10)


@pytest.mark.parametrize("key, value, message", [
    ("train.epochs", 2**70, "train.epochs must be an integer"), ("train.lr", math.nan, "train.lr must be a finite"),
    ("train.seed", -3, "train.seed must be an integer in [0,"), ("data.seed", 2**64, "data.seed"),
    ("model.sigma", math.inf, "model.sigma must be a finite"), ("data.classes", [2**80], "data.classes[0]"),
])
def test_config_numbers_are_checked_where_they_are_read(key, value, message):
    section, name = key.split(".")
    with pytest.raises(ConfigError) as info:
        from_dict(RunConfig, {section: {name: value}})
    assert message in str(info.value)


def test_a_model_too_large_is_refused_before_a_weight_is_allocated():
    with pytest.raises(ConfigError, match=f"parameters; at most {MAX_PARAMETERS:,}"):
        build_model(ModelConfig(latent_dim=10**8), (1, 28, 28))  # 10**11 parameters: 400 GB of float32


def test_a_sample_grid_too_large_is_refused_before_sampling(monkeypatch):
    from vaekit import figures, latent
    from vaekit.data import Preprocessor

    model = build_model(from_dict(ModelConfig, {"latent_dim": 2, "net": {"hidden": [8]}}), (3, 256, 256))
    monkeypatch.setattr(latent, "sample", lambda *a, **k: pytest.fail("sampled before checking the grid"))
    with pytest.raises(ConfigError, match="grid of 10,000 images of 256x256"):
        figures.samples_figure(model, Preprocessor(), n=10_000)
