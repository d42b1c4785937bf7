"""Experiment tracking: TensorBoard event files and MLflow runs, read back with the libraries' own readers."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

import vaekit
from vaekit.errors import ConfigError

from .conftest import tiny_config

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def read_events(folder) -> EventAccumulator:
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "histograms": 0})
    events.Reload()
    return events


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    """Two epochs of 22 steps, per-step scalars every 5 steps."""
    return vaekit.train(tiny_config(tmp_path_factory.mktemp("tb"), epochs=2, log_every=5))


def test_tensorboard_scalars_are_the_logged_values(tracked_run):
    events = read_events(tracked_run.path / "tensorboard")
    rows = [json.loads(line) for line in (tracked_run.path / "metrics.jsonl").read_text().splitlines()]
    for tag, key in (("nelbo/train", "train_nelbo"), ("nelbo/val", "val_nelbo"), ("rate/val", "val_rate"),
                     ("distortion/train", "train_distortion"), ("train/kl_weight", "kl_weight")):
        scalars = events.Scalars(tag)
        assert [s.step for s in scalars] == [r["step"] for r in rows]
        np.testing.assert_allclose([s.value for s in scalars], [r[key] for r in rows], rtol=1e-6)
    steps = [s.step for s in events.Scalars("step/nelbo")]
    assert steps == list(range(5, rows[-1]["step"] + 1, 5))  # every log_every steps, not every step
    nelbo, rate, distortion = (np.array([s.value for s in events.Scalars(f"step/{t}")])
                               for t in ("nelbo", "rate", "distortion"))
    np.testing.assert_allclose(nelbo, rate + distortion, rtol=1e-5)
    assert 0 < nelbo[-1] < nelbo[0]  # the step values are the training terms: they go down


def test_tensorboard_images_and_latent_histograms(tracked_run):
    events = read_events(tracked_run.path / "tensorboard")
    steps = [json.loads(line)["step"] for line in (tracked_run.path / "metrics.jsonl").read_text().splitlines()]
    for tag, size in (("samples", (8 * 8 + 9 * 2, 8 * 8 + 9 * 2)), ("reconstructions", (8 * 8 + 9 * 2, 4 * 8 + 5 * 2))):
        images = events.Images(tag)
        assert [i.step for i in images] == steps
        with Image.open(io.BytesIO(images[-1].encoded_image_string)) as img:  # 8x8 digits, 2-pixel padding
            assert (img.width, img.height) == size and img.format == "PNG"
            assert len(np.unique(np.asarray(img.convert("L")))) > 10  # a picture, not a blank
    assert {f"latent_mean/z{j}" for j in range(4)} <= set(events.Tags()["histograms"])
    hist = events.Histograms("latent_mean/z0")[-1].histogram_value
    assert hist.num == 153  # the digits' validation examples
    assert "config" in str(events.Tags())


def test_tensorboard_off_and_required(tmp_path, monkeypatch):
    run = vaekit.train(tiny_config(tmp_path, epochs=1, tensorboard=False))
    assert not (run.path / "tensorboard").exists()
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="pip install 'vaekit\\[tensorboard\\]'"):
        vaekit.train({**tiny_config(tmp_path, epochs=1, tensorboard=True), "name": "needs-tb"})


def test_mlflow_run_with_metrics_params_and_artifacts(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    run = vaekit.train(tiny_config(tmp_path, epochs=2, mlflow=True, tensorboard=False, log_every=10))
    info = json.loads((run.path / "run.json").read_text())
    client = MlflowClient(tracking_uri=uri)  # the default store: <out_dir>/mlruns
    assert info["mlflow_uri"] == uri
    got = client.get_run(info["mlflow_run_id"])
    assert got.info.status == "FINISHED" and got.info.run_name == "tiny"
    assert got.data.params["model.latent_dim"] == "4" and got.data.params["train.epochs"] == "2"
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    history = client.get_metric_history(got.info.run_id, "nelbo/val")
    assert [m.step for m in history] == [r["step"] for r in rows]
    assert [m.value for m in history] == pytest.approx([r["val_nelbo"] for r in rows])
    assert [m.step for m in client.get_metric_history(got.info.run_id, "step/loss")] == [10, 20, 30, 40]
    artifacts = {a.path for a in client.list_artifacts(got.info.run_id)}
    assert {"loss.png", "samples.png", "report.html"} <= artifacts


def test_a_failing_tracker_never_stops_training(tmp_path, monkeypatch, caplog):
    from vaekit.tracking import TensorBoardTracker

    calls = []

    def broken(self, trainer, row):
        calls.append(row["epoch"])
        raise OSError("No space left on device")
    monkeypatch.setattr(TensorBoardTracker, "on_epoch_end", broken)
    run = vaekit.train(tiny_config(tmp_path, epochs=2))
    assert run.info["status"] == "finished" and run.info["epochs_done"] == 2
    assert calls == [1]  # stopped after its first failure
    assert "TensorBoardTracker stopped tracking this run: OSError: No space left on device" in caplog.text


def test_a_tracker_that_cannot_start_never_stops_training(tmp_path, monkeypatch, caplog):
    from vaekit.tracking import TensorBoardTracker

    def broken(self, *args):
        raise ConnectionError("server unreachable")
    monkeypatch.setattr(TensorBoardTracker, "__init__", broken)
    run = vaekit.train(tiny_config(tmp_path, epochs=1))
    assert run.info["status"] == "finished" and not (run.path / "tensorboard").exists()
    assert "a tracker could not start and is off for this run: ConnectionError: server unreachable" in caplog.text
