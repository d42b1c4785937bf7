"""Checkpoints: atomic replacement, pickle-free loading, and one clear error for every bad file."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml

import vaekit
from vaekit.errors import CheckpointError, ConfigError
from vaekit.train import checkpoint
from vaekit.train.api import resume
from vaekit.train.checkpoint import (CHECKPOINT_DIR, LATEST, Checkpoint, flatten_optimizer, latest_checkpoint,
                                     load_checkpoint, save_checkpoint, unflatten_optimizer)

SRC = Path(vaekit.__file__).parent
LONGER = [("train.epochs", 4)]


@pytest.fixture
def run(tiny_run, tmp_path) -> Path:
    """A private copy of the tiny trained run (its checkpoint is from the end of epoch 3)."""
    return Path(shutil.copytree(tiny_run.path, tmp_path / "run"))


class Payload:
    """Unpickling this creates ``path``: proof that code ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_round_trip_and_only_the_newest_is_kept(tmp_path):
    tensors = {"w": torch.arange(6.0).view(2, 3)}
    for step in (5, 10):
        save_checkpoint(tmp_path, Checkpoint(model=tensors, tensors={"acc": torch.ones(2) * step},
                                             meta={"state": {"step": step}}))
    folders = [p.name for p in (tmp_path / CHECKPOINT_DIR).iterdir() if p.is_dir()]
    assert len(folders) == 1 and folders[0].startswith("step-000000010-")
    ckpt = load_checkpoint(tmp_path)
    assert torch.equal(ckpt.model["w"], tensors["w"]) and torch.equal(ckpt.tensors["acc"], torch.full((2,), 10.0))
    assert ckpt.meta["state"] == {"step": 10}


def test_optimizer_state_survives_flattening():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        model(torch.ones(4, 3)).pow(2).sum().backward()
        opt.step()
    tensors, meta = flatten_optimizer(opt.state_dict(), "opt")
    assert all(torch.is_tensor(t) for t in tensors.values())
    meta = json.loads(json.dumps(meta))  # the JSON part really is JSON
    clone = torch.optim.Adam(model.parameters(), lr=0.1)
    clone.load_state_dict(unflatten_optimizer(tensors, meta, "opt"))
    a, b = opt.state_dict(), clone.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert all(torch.equal(a["state"][i][k], b["state"][i][k]) for i in a["state"] for k in a["state"][i])


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_checkpoint_is_one_clear_error(run, damage):
    target = latest_checkpoint(run) / "trainer.safetensors"
    data = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(data[: len(data) // 3])
    elif damage == "flip":
        target.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])
    else:
        target.unlink()
    with pytest.raises(CheckpointError, match="trainer.safetensors"):
        resume(run)


def test_bad_pointer_or_state_is_one_clear_error(run):
    pointer = run / CHECKPOINT_DIR / LATEST
    pointer.write_text("../../elsewhere\n")
    with pytest.raises(CheckpointError, match="names no checkpoint folder"):
        load_checkpoint(run)
    pointer.unlink()
    with pytest.raises(CheckpointError, match="no checkpoint to resume from"):
        resume(run)


def test_tampered_state_json_is_one_clear_error(run):
    state = latest_checkpoint(run) / "state.json"
    meta = json.loads(state.read_text())
    del meta["state"]["step"], meta["optimizer"]
    state.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="checkpoint state does not fit this run"):
        resume(run, LONGER)
    state.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        resume(run, LONGER)


@pytest.mark.parametrize("edit", [
    lambda m: m["state"].update(epoch="3"), lambda m: m["state"].update(step=-1),
    lambda m: m["state"].update(history={}),
    lambda m: m["state"]["history"].append({"epoch": "x"}), lambda m: m.update(state=[]),
    lambda m: m.update(world_size="1"), lambda m: m["state"].update(best_val="inf"), lambda m: m.update(rng=None),
], ids=["epoch-str", "negative-step", "history-dict", "history-row", "state-list", "world-str", "best-str", "rng-none"])
def test_state_json_of_wrong_types_is_one_clear_error(run, edit):
    state = latest_checkpoint(run) / "state.json"
    meta = json.loads(state.read_text())
    edit(meta)
    state.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="state.json"):
        resume(run, LONGER)


def test_finished_run_resumes_only_to_train_longer(run):
    with pytest.raises(ConfigError, match="already finished 3 epochs"):
        resume(run)
    assert resume(run, LONGER).info["epochs_done"] == 4


def test_config_that_does_not_match_the_weights_is_one_clear_error(run):
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"]["latent_dim"] = 7
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(CheckpointError, match="model section does not match the checkpoint"):
        resume(run)
    with pytest.raises(CheckpointError, match="weights do not match the config"):
        vaekit.load(run)


def test_resume_refuses_changes_that_would_make_another_run(run):
    with pytest.raises(ConfigError, match="model.latent_dim cannot change when resuming"):
        resume(run, [("model.latent_dim", 8)])


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_pickled_checkpoint_is_refused_without_running_code(run, tmp_path, writer):
    marker = tmp_path / "code-ran"
    payload = {"w": Payload(marker)}
    for target in (run / "model.safetensors", run / "best.safetensors", latest_checkpoint(run) / "model.safetensors"):
        with open(target, "wb") as fh:
            pickle.dump(payload, fh) if writer == "pickle" else torch.save(payload, fh)
    # The attacker also fixes the checksum, so only the file format stands in the way.
    state = latest_checkpoint(run) / "state.json"
    meta = json.loads(state.read_text())
    meta["sha256"]["model.safetensors"] = hashlib.sha256((state.parent / "model.safetensors").read_bytes()).hexdigest()
    state.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        resume(run)
    for weights in ("best", "last"):
        with pytest.raises(CheckpointError, match="not a valid safetensors file"):
            vaekit.load(run, weights)
    assert not marker.exists()


def test_no_unpickling_anywhere_in_vaekit():
    pattern = re.compile(r"torch\.load\(|pickle\.loads?\(|allow_pickle\s*=\s*True|import (c?pickle|dill)\b")
    offenders = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders


def test_interrupted_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    ckpt = Checkpoint(model={"w": torch.zeros(3)}, tensors={}, meta={"state": {"step": 1}})
    save_checkpoint(tmp_path, ckpt)

    def crash(path, data):
        path.write_bytes(data[:10])
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "write_bytes", crash)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path, Checkpoint(model={"w": torch.ones(3)}, tensors={}, meta={"state": {"step": 2}}))
    assert load_checkpoint(tmp_path).meta["state"]["step"] == 1
    assert sorted(os.listdir(tmp_path / CHECKPOINT_DIR)) == sorted([LATEST, latest_checkpoint(tmp_path).name])
