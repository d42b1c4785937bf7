import pytest

from vaekit.config import from_dict, parse_override
from vaekit.errors import ConfigError
from vaekit.train.config import RunConfig, build_run_config


def test_defaults_validate():
    cfg = from_dict(RunConfig, {})
    assert cfg.model.name == "vae" and cfg.data.spec == "digits"


@pytest.mark.parametrize("data, key", [
    ({"train": {"lrr": 1}}, "train.lrr"),
    ({"model": {"net": {"hiden": [3]}}}, "model.net.hiden"),
    ({"bogus": 1}, "bogus"),
])
def test_unknown_keys_are_errors_naming_the_key(data, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        from_dict(RunConfig, data)


@pytest.mark.parametrize("data, key", [
    ({"train": {"epochs": "ten"}}, "train.epochs"),
    ({"train": {"lr": True}}, "train.lr"),
    ({"model": {"net": {"hidden": "400"}}}, "model.net.hidden"),
    ({"train": {"progress": 1}}, "train.progress"),
])
def test_wrong_types_are_errors_naming_the_key(data, key):
    with pytest.raises(ConfigError, match=key):
        from_dict(RunConfig, data)


@pytest.mark.parametrize("data", [
    {"train": {"epochs": 0}}, {"train": {"lr": -1.0}}, {"model": {"latent_dim": 0}},
    {"model": {"likelihood": "poisson"}}, {"model": {"net": {"body": "rnn"}}}, {"model": {"name": "nope"}},
    {"data": {"binarize": "sometimes"}}, {"train": {"kl_schedule": "sigmoid"}},
])
def test_bad_values_are_config_errors(data):
    with pytest.raises(ConfigError):
        from_dict(RunConfig, data)


def test_ints_are_accepted_for_floats():
    assert from_dict(RunConfig, {"train": {"lr": 1}}).train.lr == 1.0


def test_parse_override_reads_yaml_values():
    assert parse_override("train.lr=3e-4") == ("train.lr", 3e-4)
    assert parse_override("model.net.hidden=[64, 32]") == ("model.net.hidden", [64, 32])
    assert parse_override("data.spec=mnist:/data") == ("data.spec", "mnist:/data")
    with pytest.raises(ConfigError):
        parse_override("train.lr")


def test_precedence_preset_then_file_then_overrides(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("preset: keras-conv-z2\ntrain:\n  epochs: 7\nmodel:\n  latent_dim: 3\n")
    cfg = build_run_config(file=str(f), overrides=[("model.latent_dim", 5)])
    assert cfg.model.net.body == "conv" and cfg.model.net.dense == [16]
    assert cfg.train.epochs == 7 and cfg.model.latent_dim == 5


def test_presets_reproduce_the_seed_architectures():
    mlp = build_run_config("mlp-784-400-20").model
    assert mlp.net.hidden == [400] and mlp.latent_dim == 20 and mlp.net.activation == "relu"
    conv = build_run_config("conv-32x2-z128").model
    assert conv.net.channels == [32, 32] and conv.net.kernel == 4 and conv.net.stride == 2 and conv.latent_dim == 128
    conv3 = build_run_config("conv-8-16-32-z32").model
    assert conv3.net.channels == [8, 16, 32] and conv3.net.kernel == 3 and conv3.latent_dim == 32
    keras = build_run_config("keras-conv-z2").model
    assert keras.net.channels == [32, 64] and keras.net.dense == [16] and keras.latent_dim == 2
