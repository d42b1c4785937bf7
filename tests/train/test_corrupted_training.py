"""train.corrupt: training batches reach the loss corrupted, validation and test stay clean."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

import vaekit
from vaekit.cli import main
from vaekit.config import from_dict
from vaekit.errors import ConfigError
from vaekit.models import VAE
from vaekit.train.api import train
from vaekit.train.config import RunConfig

from ..conftest import tiny_config


def test_training_batches_are_corrupted_and_evaluation_is_clean(tmp_path, monkeypatch):
    seen = {"clean": 0, "hidden": []}
    loss = VAE.loss

    def recording(self, x, y=None, ctx=None, x_in=None):
        if x_in is None:
            seen["clean"] += 1
        else:
            kept = x_in != 0
            assert torch.equal(x_in[kept], x[kept])  # only dropped pixels differ
            seen["hidden"].append(float(((x_in == 0) & (x != 0)).sum() / (x != 0).sum()))
        return loss(self, x, y, ctx, x_in)

    monkeypatch.setattr(VAE, "loss", recording)
    run = train(tiny_config(tmp_path, epochs=1, corrupt="drop:0.5"))
    steps = json.loads((run.path / "metrics.jsonl").read_text().splitlines()[-1])["step"]
    assert len(seen["hidden"]) == steps  # every training step saw a corrupted batch
    assert all(0.35 < h < 0.65 for h in seen["hidden"])
    assert seen["clean"] >= 2  # validation and test batches: clean, no x~


def test_denoising_training_records_the_corruption_and_trains(tmp_path):
    out = tmp_path / "runs"
    assert main(["train", "--data", "digits", "--epochs", "1", "--out-dir", str(out), "--name", "dn",
                 "--corrupt", "box:0.5+gaussian:0.1", "--set", "model.net.hidden=[16]"]) == 0
    config = yaml.safe_load((out / "dn" / "config.yaml").read_text())
    assert [c["kind"] for c in config["train"]["corrupt"]] == ["box", "gaussian"]
    assert config["train"]["corrupt"][0]["size"] == 0.5 and config["train"]["corrupt"][1]["sigma"] == 0.1
    cfg = from_dict(RunConfig, config)
    assert [str(c) for c in cfg.train.corrupt] == ["box:0.5", "gaussian:0.1"]


def test_corruption_of_standardized_data_is_refused(tmp_path):
    cfg = tiny_config(tmp_path, corrupt="gaussian:0.1")
    cfg["data"] = {"standardize": True}
    cfg["model"]["likelihood"] = "gaussian"
    with pytest.raises(ConfigError, match="standardized"):
        vaekit.train(cfg)
