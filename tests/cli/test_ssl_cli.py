"""Semi-supervised models end to end on the digits: train M2 and M1+M2 with 50 labels, evaluate their
classification error, sample by class, draw analogies; every training batch carries labelled examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import vaekit
from vaekit.cli import main
from vaekit.config import from_dict
from vaekit.data import DataConfig, load_data
from vaekit.models import ModelConfig, build_model
from vaekit.models.m2 import M2
from vaekit.train.config import TrainConfig
from vaekit.train.loop import Trainer

M2_ARGS = ["--data", "digits", "--latent-dim", "4", "--batch-size", "64", "--set", "model.net.hidden=[64]",
           "--set", "data.labelled=50", "--set", "train.lr=3e-3", "--set", "train.progress=false"]


@pytest.fixture(scope="module")
def m2_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ssl")
    assert main(["train", "--model", "m2", "--epochs", "8", "--name", "m2", "--out-dir", str(out), *M2_ARGS]) == 0
    return out / "m2"


def partly_labelled_npz(path: Path, n: int = 400) -> Path:
    """The first ``n`` digits as 8-bit images in an npz, every fifth label -1 (unlabelled)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    y = np.where(np.arange(n) % 5 == 0, -1, digits.target[:n])
    np.savez(path, x=(digits.images[:n] * 15).astype(np.uint8), y=y)
    return path


def test_m2_trains_on_user_data_with_unlabelled_examples_and_scores_the_labelled(tmp_path, capsys):
    data = partly_labelled_npz(tmp_path / "partly.npz")
    argv = ["train", "--model", "m2", "--data", f"npz:{data}", "--epochs", "1", "--name", "m2u",
            "--out-dir", str(tmp_path), "--latent-dim", "4", "--batch-size", "64", "--set", "model.net.hidden=[32]",
            "--set", "data.test_fraction=0.2", "--set", "train.progress=false"]
    assert main(argv) == 0
    assert main(["evaluate", str(tmp_path / "m2u"), "--iw-samples", "5"]) == 0
    result = json.loads((tmp_path / "m2u" / "evaluation.json").read_text())
    run = vaekit.open_run(tmp_path / "m2u")
    test = vaekit.latent.load_split(run)
    labelled = test.y >= 0
    assert int((~labelled).sum()) == 16 and result["n_examples"] == len(test) == 80  # 20% of each stratum
    assert result["classification_n"] == result["probe_n_eval"] == int(labelled.sum()) == 64
    wrong = (run.model.classify(run.preprocessor(test.x[labelled])) != test.y[labelled]).double().mean()
    assert result["classification_error"] == pytest.approx(float(wrong))
    train = load_data(run.config.data)[0].train
    assert result["probe_n_fit"] == int((train.y >= 0).sum()) < len(train)  # fitted on labelled rows only


def test_cvae_on_data_with_unlabelled_examples_is_one_line(tmp_path, capsys):
    data = partly_labelled_npz(tmp_path / "partly.npz")
    splits, _ = load_data(DataConfig(spec=f"npz:{data}", test_fraction=0.2))
    n = int((splits.train.y < 0).sum())
    argv = ["train", "-q", "--model", "cvae", "--data", f"npz:{data}", "--epochs", "1", "--name", "cvae",
            "--out-dir", str(tmp_path), "--set", "data.test_fraction=0.2", "--set", "train.progress=false"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{n} training examples are unlabelled (-1): cvae needs every label; use m2 or m1m2" \
        in err[0]
    assert not (tmp_path / "cvae").exists()  # refused before the run folder is written


def test_every_training_batch_carries_labelled_examples(monkeypatch):
    seen = []
    objective = M2.objective

    def spy(self, x, y, ctx, x_in=None):
        seen.append((len(y), int((y >= 0).sum())))
        return objective(self, x, y, ctx, x_in)

    monkeypatch.setattr(M2, "objective", spy)
    splits, pre = load_data(DataConfig(spec="digits", labelled=20))
    model = build_model(from_dict(ModelConfig, {"name": "m2", "latent_dim": 2, "net": {"hidden": [16]}}),
                        splits.train.sample_shape, 10)
    Trainer(model, splits, pre, TrainConfig(batch_size=100, labelled_per_batch=5), torch.device("cpu")).run_epoch()
    n, steps = len(splits.train), -(-len(splits.train) // 100)
    assert len(seen) == steps and all(n_labelled >= 5 for _, n_labelled in seen)
    assert sum(size for size, _ in seen) == n + steps * 5


def test_m2_trains_classifies_and_reports_its_error(m2_run, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(m2_run), "--iw-samples", "20", "--no-probe"]) == 0
    out = capsys.readouterr().out
    result = json.loads((m2_run / "evaluation.json").read_text())
    assert result["classification_n"] == result["n_examples"] == 269
    assert result["classification_error"] < 0.5  # chance: 0.9
    assert f"{100 * result['classification_error']:.2f}%" in out
    assert result["nll"] <= result["nelbo"] + 1.0 and len(result["kl_per_dim"]) == 4 + 1
    info = json.loads((m2_run / "run.json").read_text())
    assert info["test"]["nelbo"] == pytest.approx(result["nelbo"], rel=0.05)  # both bound -log p(x)


def test_m2_samples_a_class_and_draws_analogies(m2_run, capsys):
    assert main(["sample", str(m2_run), "--label", "3", "--n", "8", "--mean"]) == 0
    assert main(["analogy", str(m2_run), "--n", "4"]) == 0
    assert main(["analogy", str(m2_run), "--indices", "0,1", "--infer", "--out", str(m2_run / "a2.png")]) == 0
    for name in ("latent/samples.png", "latent/analogy.png", "a2.png"):
        assert (m2_run / name).stat().st_size > 1000
    run = vaekit.open_run(m2_run)
    x = torch.rand(2, 1, 8, 8)
    grid = vaekit.latent.analogies(run.model, x)
    assert grid.shape == (2, 10, 1, 8, 8)
    assert not torch.allclose(grid[:, 0], grid[:, 1])  # the class changes the picture


def test_analogy_of_a_model_without_classes_is_one_line(tiny_run, capsys):
    assert main(["analogy", str(tiny_run.path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model with classes" in err[0]


def test_m1m2_trains_on_a_vae_run_and_classifies(tiny_run, tmp_path, capsys):
    argv = ["train", "--model", "m1m2", "--epochs", "4", "--name", "m1m2", "--out-dir", str(tmp_path), *M2_ARGS,
            "--set", f"model.m1_run={tiny_run.path}"]
    assert main(argv) == 0
    run = vaekit.open_run(tmp_path / "m1m2")
    assert run.config.model.m1_latent_dim == tiny_run.model.latent_dim  # read from the M1 run, saved in the run
    for key, value in tiny_run.model.state_dict().items():  # the frozen copy of M1
        assert torch.equal(run.model.m1.state_dict()[key], value)
    result = vaekit.evaluate(run, iw_samples=5, probe=False)
    test = vaekit.latent.load_split(run)
    wrong = (run.model.classify(run.preprocessor(test.x)) != test.y).double().mean()
    assert result["classification_error"] == pytest.approx(float(wrong)) and result["classification_n"] == len(test)
    assert main([*argv[:-1], "model.m1_run=no-such-run"]) == 2
    assert "no-such-run" in capsys.readouterr().err


def test_training_logs_the_validation_error_of_the_classifier(m2_run):
    rows = [json.loads(line) for line in (m2_run / "metrics.jsonl").read_text().splitlines()]
    run = vaekit.open_run(m2_run, weights="last")
    val = vaekit.latent.load_split(run, split="val")
    wrong = (run.model.classify(run.preprocessor(val.x)) != val.y).double().mean()
    assert rows[-1]["val_classification_error"] == pytest.approx(float(wrong))  # the last weights, on val
    assert rows[-1]["val_classification_error"] < rows[0]["val_classification_error"]  # it learns
