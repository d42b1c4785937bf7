"""`vaekit train` end to end in a subprocess, and its one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_digits

def vaekit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "vaekit", *args], capture_output=True, text=True, cwd=cwd, timeout=300)

def test_train_end_to_end(tmp_path):
    out = vaekit("train", "--epochs", "2", "--latent-dim", "3", "--set", "model.net.hidden=[32]",
                 "--out-dir", str(tmp_path), "--name", "e2e", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "test negative ELBO" in out.stdout and "bits/dim" in out.stdout
    run = tmp_path / "e2e"
    for name in ("config.yaml", "model.safetensors", "metrics.jsonl", "reconstructions.png", "samples.png", "loss.png"):
        assert (run / name).is_file()
    info = json.loads((run / "run.json").read_text())
    test = info["test"]
    assert info["status"] == "finished" and info["epochs_done"] == 2 and info["n_train"] == 1375
    assert f"test negative ELBO: {test['nelbo']:.2f} nats" in out.stdout  # what is printed is what is stored
    assert test["nelbo"] == pytest.approx(test["rate"] + test["distortion"]) and test["rate"] >= 0
    assert test["bpd"] == pytest.approx(test["nelbo"] / (64 * np.log(2)))
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["model"]["latent_dim"] == 3 and cfg["model"]["net"]["hidden"] == [32] and cfg["train"]["epochs"] == 2
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["train_nelbo"] < rows[0]["train_nelbo"]

@pytest.mark.parametrize("args, message", [
    (["--data", "mnist:/definitely/missing"], "no such data folder"),
    (["--preset", "nope"], "unknown preset 'nope'"),
    (["--set", "train.lr=-1"], "train.lr must be a finite positive number"),
    (["--set", "train.lrr=1"], "unknown config key 'train.lrr'"),
    (["--epochs", "ten"], "expected an integer, got 'ten'"),
    (["--config", "/missing.yaml"], "cannot read config file"),
    (["--data", "nosuchsource"], "unknown data source 'nosuchsource'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    out = vaekit("train", "--out-dir", str(tmp_path), *args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in out.stderr
    assert not any(tmp_path.iterdir())  # nothing half-written


def _digits_npz(path, scale: float, noise: float = 0.0):
    """The bundled digits as float images (N, 8, 8) in 0..16 * scale, optionally off the integer grid."""
    x = load_digits().images.astype(np.float32) * scale
    x += noise * np.random.default_rng(0).random(x.shape, dtype=np.float32)
    np.savez(path, x=x, y=load_digits().target)
    return path


def _run_facts(run):
    """The saved likelihood, run.json and the last metrics row."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return config["model"]["likelihood"], json.loads((run / "run.json").read_text()), rows[-1]


@pytest.mark.parametrize("likelihood", [None, "auto"])
def test_float_images_in_0_255_train_to_a_positive_nelbo(tmp_path, likelihood):
    """8-bit images saved as floats are read as 8-bit data: Bernoulli on [0, 1], a positive -ELBO."""
    npz = _digits_npz(tmp_path / "f.npz", scale=15.0)  # whole numbers 0..240 stored as float32
    args = ["--likelihood", likelihood] if likelihood else []
    out = vaekit("train", "--data", f"npz:{npz}", "--epochs", "2", "--out-dir", str(tmp_path), "--name", "f",
                 "--quiet", *args)
    assert out.returncode == 0, out.stderr
    name, info, last = _run_facts(tmp_path / "f")
    assert name == "bernoulli" and info["max_value"] == 255.0
    assert last["val_nelbo"] > 0 and last["train_nelbo"] > 0 and last["val_bpd"] > 0


def test_continuous_float_images_get_a_gaussian_and_no_bits_per_dim(tmp_path):
    npz = _digits_npz(tmp_path / "c.npz", scale=255 / 17, noise=0.5)  # off the integer grid, up to ~240
    out = vaekit("train", "--data", f"npz:{npz}", "--epochs", "2", "--out-dir", str(tmp_path), "--name", "c",
                 "--quiet")
    assert out.returncode == 0, out.stderr
    name, info, last = _run_facts(tmp_path / "c")
    assert name == "gaussian_learned" and last["val_bpd"] is None and info["max_value"] == 1.0


@pytest.mark.parametrize("data, likelihood, message", [
    ("npz", "bernoulli", "the bernoulli likelihood needs values in [0, 1], the data has [1.8"),
    ("csv", "bernoulli", "the bernoulli likelihood needs values in [0, 1]"),
    ("digits", "logistic", "the logistic likelihood needs 8-bit data"),
])
def test_data_outside_the_likelihoods_support_is_one_line_and_exit_2(tmp_path, data, likelihood, message):
    if data == "npz":
        data = f"npz:{_digits_npz(tmp_path / 'c.npz', scale=255 / 17, noise=0.5)}"
    elif data == "csv":
        (tmp_path / "t.csv").write_text("a,b\n" + "".join(f"{i},{i * i % 7}\n" for i in range(40)))
        data = f"csv:{tmp_path / 't.csv'}"
    out = vaekit("train", "--data", data, "--likelihood", likelihood, "--epochs", "1", "--out-dir",
                 str(tmp_path / "runs"), "--quiet")
    assert out.returncode == 2, out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "--likelihood auto" in lines[0]
    assert not (tmp_path / "runs").exists()  # refused before anything was written


@pytest.mark.parametrize("lr", ["inf", "nan", "1e38"])
def test_an_absurd_lr_is_one_line_exit_2_and_leaves_only_finite_weights(tmp_path, lr):
    out = vaekit("train", "--lr", lr, "--epochs", "2", "--latent-dim", "3", "--set", "model.net.hidden=[32]",
                 "--out-dir", str(tmp_path), "--name", "absurd", "--quiet")
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    if lr != "1e38":  # refused by the config check: nothing written
        assert "train.lr" in lines[0] and "finite" in lines[0] and not any(tmp_path.iterdir())
        return
    assert "saved the last good weights" in lines[0]
    from vaekit.io import load_tensors
    from vaekit.train.checkpoint import load_checkpoint

    run = tmp_path / "absurd"
    ckpt = load_checkpoint(run)
    saved = [load_tensors(run / "model.safetensors"), ckpt.model, ckpt.tensors]
    assert all(np.isfinite(t.float().numpy()).all() for part in saved for t in part.values())
    again = vaekit("train", "--resume", str(run), "--lr", "1e-3", "--quiet")
    assert again.returncode == 0, again.stderr
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
