"""Experiment tracking through the libraries users already use: TensorBoard and MLflow.

- TensorBoard (``train.tensorboard``; on by default when ``tensorboard`` is installed, ``pip install
  vaekit[tensorboard]``): event files in ``RUN/tensorboard``, read by ``tensorboard --logdir runs``.
  Every ``train.log_every`` steps the step's terms (``step/loss``, ``step/nelbo``, ``step/rate``,
  ``step/distortion``) and ``step/kl_weight``; every epoch the epoch means (``nelbo/train``,
  ``nelbo/val``, ``rate/...``, ``distortion/...``, ``bpd/val``), ``train/kl_weight``,
  ``train/skipped_steps``, ``train/seconds_per_epoch``, the images ``samples`` (decoder means of 64
  fixed prior draws) and ``reconstructions`` (16 validation examples above their reconstructions),
  and histograms ``latent_mean/z<i>`` of the posterior means of up to 1000 validation examples.
  The x axis is the optimizer step throughout.
- MLflow (``train.mlflow``, ``pip install vaekit[mlflow]``): the same scalars as metrics, the flat
  config as params, and at the end the run's figures and report as artifacts. The MLflow run id is
  kept in ``run.json`` so a resumed run continues the same MLflow run.

The trackers hang on the trainer's ``on_step_end`` / ``on_epoch_end`` hooks (rank 0 only). Their
pictures come from fixed inputs under a forked RNG, so tracking never changes what is trained.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .config import to_dict
from .device import device_of, evaluating
from .errors import ConfigError
from .figures import eval_batch, to_display
from .latent import labels_for
from .train.config import RunConfig
from .train.loop import Trainer
from .train.step import TERMS
from .viz import image_grid

log = logging.getLogger(__name__)
#: Examples whose posterior means fill the latent histograms; fixed prior draws in the sample images.
HIST_EXAMPLES, N_SAMPLES, N_RECON = 1000, 64, 16
#: Per-dimension latent histograms for at most this many dimensions.
MAX_HIST_DIMS = 32
EPOCH_TERMS = ("nelbo", "rate", "distortion", "bpd")


def epoch_scalars(row: dict) -> dict[str, float]:
    """A metrics row as tracker scalars: ``nelbo/train``, ``nelbo/val``, ..., ``train/kl_weight``."""
    out = {f"{term}/{split}": row[f"{split}_{term}"] for term in EPOCH_TERMS for split in ("train", "val")
           if f"{split}_{term}" in row}
    out.update({"train/kl_weight": row["kl_weight"], "train/skipped_steps": row["skipped_steps"],
                "train/seconds_per_epoch": row["seconds"], "train/epoch": row["epoch"]})
    return {k: float(v) for k, v in out.items() if v is not None}  # e.g. no bits/dim for tables


def step_scalars(trainer: Trainer, terms: torch.Tensor) -> dict[str, float]:
    """The step's ``TERMS`` ``(4,)`` as floats (one host transfer) and its KL weight."""
    out = {f"step/{name}": v for name, v in zip(TERMS, terms.tolist())}
    out["step/kl_weight"] = float(trainer.schedule(trainer.state.step - 1))
    return out


class Pictures:
    """The fixed inputs of the tracked pictures: prior draws from a fixed seed (under a forked RNG, so
    training's random stream is untouched) and the first validation examples."""

    def __init__(self, trainer: Trainer, seed: int) -> None:
        ds = trainer.splits.val or trainer.splits.train
        self.model, self.pre, self.seed = trainer.model, trainer.pre, seed
        self.x, self.y = eval_batch(ds, trainer.pre, device_of(trainer.model), HIST_EXAMPLES)
        self.images = len(self.x.shape) == 4

    @torch.no_grad()
    def samples(self) -> np.ndarray:
        """``(H, W, C)`` uint8 grid of decoder means of N_SAMPLES seeded prior draws."""
        device = device_of(self.model)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(self.seed)
            x = self.model.sample(N_SAMPLES, y=labels_for(self.model, N_SAMPLES), mean=True)
        return _grid(to_display(x, self.pre), 8)

    @torch.no_grad()
    def reconstructions(self) -> np.ndarray:
        """Rows of up to 8 originals, each above the row of their reconstructions."""
        ncol = min(8, len(self.x))
        n = min(N_RECON, len(self.x)) // ncol * ncol
        x, y = self.x[:n], None if self.y is None else self.y[:n]
        x_hat = self.model.reconstruct(x, y)
        pairs = torch.stack([x.reshape(-1, ncol, *x.shape[1:]), x_hat.reshape(-1, ncol, *x.shape[1:])], 1)
        return _grid(to_display(pairs.reshape(-1, *x.shape[1:]), self.pre), ncol)

    @torch.no_grad()
    def latent_means(self) -> torch.Tensor:
        """``(N, Z)`` posterior means of the fixed validation examples."""
        return self.model.encode(self.x, self.y).mean.float().cpu()


def _grid(x: torch.Tensor, nrow: int) -> np.ndarray:
    return np.asarray(image_grid(x, nrow=nrow, min_cell=x.shape[-2]).convert("RGB"))


class TensorBoardTracker:
    """Event files in ``log_dir`` through ``torch.utils.tensorboard`` (see the module docstring)."""

    def __init__(self, log_dir: Path, trainer: Trainer, cfg: RunConfig) -> None:
        from torch.utils.tensorboard import SummaryWriter

        start = trainer.state.step  # a resumed run: hide events logged after its checkpoint
        self.writer = SummaryWriter(str(log_dir), purge_step=start + 1 if start else None)
        self.every, self.pictures = cfg.train.log_every, Pictures(trainer, cfg.train.seed)
        if not start:
            import yaml

            self.writer.add_text("config", "```\n" + yaml.safe_dump(to_dict(cfg), sort_keys=False) + "```", 0)

    def on_step_end(self, trainer: Trainer, terms: torch.Tensor, skipped) -> None:
        if trainer.state.step % self.every == 0:
            for tag, value in step_scalars(trainer, terms).items():
                self.writer.add_scalar(tag, value, trainer.state.step)

    def on_epoch_end(self, trainer: Trainer, row: dict) -> None:
        step = trainer.state.step
        for tag, value in epoch_scalars(row).items():
            self.writer.add_scalar(tag, value, step)
        with evaluating(trainer.model):
            if self.pictures.images:
                self.writer.add_image("samples", self.pictures.samples(), step, dataformats="HWC")
                self.writer.add_image("reconstructions", self.pictures.reconstructions(), step, dataformats="HWC")
            mu = self.pictures.latent_means()
        self.writer.add_histogram("latent_mean/all", mu, step)
        for j in range(min(mu.shape[1], MAX_HIST_DIMS)):
            self.writer.add_histogram(f"latent_mean/z{j}", mu[:, j], step)
        self.writer.flush()

    def finish(self, path: Path | None, ok: bool) -> None:
        self.writer.close()


class MLflowTracker:
    """One MLflow run per vaekit run (``MlflowClient``: no global active run is touched)."""

    def __init__(self, path: Path, trainer: Trainer, cfg: RunConfig, info: dict) -> None:
        from mlflow.tracking import MlflowClient

        uri = tracking_uri(cfg)
        self.client, self.every = MlflowClient(tracking_uri=uri), cfg.train.log_every
        self.run_id = info.get("mlflow_run_id")
        if self.run_id and info.get("mlflow_uri") == uri:  # a resumed run continues its MLflow run
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            experiment = self.client.get_experiment_by_name("vaekit")
            exp_id = experiment.experiment_id if experiment else self.client.create_experiment("vaekit")
            tags = {"vaekit.run_dir": str(path)}
            self.run_id = self.client.create_run(exp_id, run_name=path.name, tags=tags).info.run_id
            self._log(params=flatten(to_dict(cfg)))
        info.update(mlflow_run_id=self.run_id, mlflow_uri=uri)

    def _log(self, metrics: dict[str, float] | None = None, step: int = 0, params: dict | None = None) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in (metrics or {}).items()],
                              params=[Param(k, str(v)) for k, v in (params or {}).items()])

    def on_step_end(self, trainer: Trainer, terms: torch.Tensor, skipped) -> None:
        if trainer.state.step % self.every == 0:
            self._log(step_scalars(trainer, terms), trainer.state.step)

    def on_epoch_end(self, trainer: Trainer, row: dict) -> None:
        self._log(epoch_scalars(row), trainer.state.step)

    def finish(self, path: Path | None, ok: bool) -> None:
        if ok and path is not None:
            for name in ("loss.png", "samples.png", "reconstructions.png", "report.html"):
                if (path / name).is_file():
                    self.client.log_artifact(self.run_id, str(path / name))
        self.client.set_terminated(self.run_id, status="FINISHED" if ok else "FAILED")


def tracking_uri(cfg: RunConfig) -> str:
    """``train.mlflow_uri``, else ``$MLFLOW_TRACKING_URI``, else the file store ``<out_dir>/mlruns``."""
    uri = cfg.train.mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks file stores to opt in
    return (Path(cfg.out_dir).expanduser().resolve() / "mlruns").as_uri()


def flatten(data: dict, prefix: str = "") -> dict:
    """``{"train": {"lr": 1e-3}}`` -> ``{"train.lr": 1e-3}``."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def tensorboard_wanted(cfg: RunConfig) -> bool:
    """``train.tensorboard``, or (unset) whether the tensorboard package is installed."""
    installed = importlib.util.find_spec("tensorboard") is not None
    if cfg.train.tensorboard and not installed:
        raise ConfigError("train.tensorboard needs the tensorboard package: pip install 'vaekit[tensorboard]'")
    return installed if cfg.train.tensorboard is None else cfg.train.tensorboard


def start_trackers(trainer: Trainer, path: Path, cfg: RunConfig, info: dict) -> list:
    """The configured trackers, hooked onto ``trainer``."""
    starts = []
    if tensorboard_wanted(cfg) and not _utf8(path):
        log.warning("TensorBoard is off for this run: it cannot write into a folder whose name is not UTF-8")
    elif tensorboard_wanted(cfg):
        starts.append(lambda: TensorBoardTracker(path / "tensorboard", trainer, cfg))
    if cfg.train.mlflow:
        if importlib.util.find_spec("mlflow") is None:
            raise ConfigError("train.mlflow needs MLflow: pip install 'vaekit[mlflow]'")
        starts.append(lambda: MLflowTracker(path, trainer, cfg, info))
    trackers = [tracker for tracker in map(_start, starts) if tracker is not None]
    for tracker in trackers:
        failed: list[Exception] = []
        trainer.on_step_end.append(_guarded(tracker, "on_step_end", failed))
        trainer.on_epoch_end.append(_guarded(tracker, "on_epoch_end", failed))
    return trackers


def _utf8(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _start(make):
    """``make()``, or None with a warning when the tracker cannot start (a path its library cannot
    encode, an unreachable server): trackers never stop training."""
    try:
        return make()
    except Exception as exc:  # noqa: BLE001
        log.warning("a tracker could not start and is off for this run: %s: %s", type(exc).__name__, exc)
        return None


def _guarded(tracker, hook: str, failed: list[Exception]):
    """``tracker.<hook>``; on the tracker's first error (in any hook: ``failed`` is shared) it logs a
    warning and the tracker stops: a full disk or an unreachable MLflow server never stops training."""

    def call(trainer: Trainer, *args) -> None:
        if failed:
            return
        try:
            getattr(tracker, hook)(trainer, *args)
        except Exception as exc:  # noqa: BLE001
            failed.append(exc)
            log.warning("%s stopped tracking this run: %s: %s", type(tracker).__name__, type(exc).__name__, exc)
    return call


@contextlib.contextmanager
def tracked(trainer: Trainer, path: Path, cfg: RunConfig, info: dict) -> Iterator[list]:
    """Track training inside the block. The trackers close when it ends: on success MLflow also
    stores the run's figures and report (so write them inside the block), on an exception the
    MLflow run is marked FAILED."""
    trackers = start_trackers(trainer, path, cfg, info)
    ok = False
    try:
        yield trackers
        ok = True
    finally:
        for tracker in trackers:
            try:
                tracker.finish(path if ok else None, ok)
            except Exception as exc:  # noqa: BLE001  (a tracker never turns a finished run into a failure)
                log.warning("%s: could not close cleanly: %s", type(tracker).__name__, exc)
