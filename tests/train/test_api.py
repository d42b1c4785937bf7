"""vaekit.train / vaekit.load: run directory contents, reproducibility, save/load round trip."""

import json

import pytest
import torch
import yaml

import vaekit
from vaekit.io import load_tensors

from ..conftest import tiny_config

RUN_FILES = ["config.yaml", "run.json", "model.safetensors", "best.safetensors", "metrics.jsonl",
             "reconstructions.png", "samples.png", "loss.png"]


def test_run_directory_has_every_file(tiny_run):
    for name in RUN_FILES:
        assert (tiny_run.path / name).is_file(), name
    rows = [json.loads(line) for line in (tiny_run.path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    for key in ("train_nelbo", "train_rate", "train_distortion", "val_nelbo", "val_rate", "val_distortion", "kl_weight"):
        assert all(isinstance(r[key], float) for r in rows), key
    config = yaml.safe_load((tiny_run.path / "config.yaml").read_text())
    assert config["train"]["epochs"] == 3 and config["model"]["latent_dim"] == 4
    assert tiny_run.info["status"] == "finished" and tiny_run.info["test"]["nelbo"] > 0


def test_pictures_are_real_pngs(tiny_run):
    from PIL import Image

    for name in ("reconstructions.png", "samples.png", "loss.png"):
        with Image.open(tiny_run.path / name) as img:
            assert img.format == "PNG" and min(img.size) >= 64


def test_seeded_runs_are_reproducible(tmp_path):
    a = vaekit.train(tiny_config(tmp_path / "a"))
    b = vaekit.train(tiny_config(tmp_path / "b"))
    wa, wb = load_tensors(a.path / "model.safetensors"), load_tensors(b.path / "model.safetensors")
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    c = vaekit.train(tiny_config(tmp_path / "c", seed=1))
    wc = load_tensors(c.path / "model.safetensors")
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_save_load_round_trip_gives_identical_outputs(tiny_run):
    model = vaekit.load(tiny_run.path)
    x = torch.rand(5, 1, 8, 8)
    q1, q2 = tiny_run.model.encode(x), model.encode(x)
    assert torch.equal(q1.mu, q2.mu) and torch.equal(q1.logvar, q2.logvar)
    assert torch.equal(tiny_run.model.reconstruct(x), model.reconstruct(x))
    torch.manual_seed(3)
    s1 = model.sample(4)
    torch.manual_seed(3)
    assert torch.equal(s1, tiny_run.model.sample(4))


def test_run_names_do_not_overwrite(tmp_path):
    a = vaekit.train(tiny_config(tmp_path, epochs=1))
    b = vaekit.train(tiny_config(tmp_path, epochs=1))
    assert a.path != b.path and b.path.name == "tiny-2"


def test_load_missing_run_is_a_clear_error(tmp_path):
    with pytest.raises(vaekit.CheckpointError, match="no such run directory"):
        vaekit.load(tmp_path / "nope")
    with pytest.raises(vaekit.CheckpointError, match="not a vaekit run directory"):
        vaekit.load(tmp_path)


@pytest.mark.parametrize("error, status", [(KeyboardInterrupt(), "interrupted"),
                                           (OSError(28, "No space left on device"), "failed")])
def test_run_json_says_how_a_run_ended(tmp_path, monkeypatch, error, status):
    from vaekit.train.loop import Trainer

    def broken(self, bar=None):
        if self.state.epoch == 1:
            raise error
        return fit_epoch(self, bar)

    fit_epoch = Trainer.fit_epoch
    monkeypatch.setattr(Trainer, "fit_epoch", broken)
    with pytest.raises(type(error)):
        vaekit.train(tiny_config(tmp_path, epochs=3))
    info = json.loads((tmp_path / "tiny" / "run.json").read_text())
    assert info["status"] == status and info["error"]
    monkeypatch.undo()
    assert vaekit.resume(tmp_path / "tiny").info["status"] == "finished"  # and it resumes from epoch 1
