"""``vaekit.train(config) -> Run``: the main job from data to a complete run directory."""

from __future__ import annotations

import datetime
import json
import logging
import random
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..config import from_dict
from ..data import Splits, load_data
from ..device import resolve_device
from ..evaluate.likelihood import elbo_stats
from ..figures import write_run_figures
from ..io import write_json
from ..models import build_model
from ..report import write_report
from ..run import Run, new_run_dir, open_run, save_weights, write_run_files
from .config import RunConfig
from .loop import Trainer

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU runs are then reproducible)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_info(cfg: RunConfig, splits: Splits, binarize: str) -> dict:
    train = splits.train
    return {"vaekit_version": __version__, "model": cfg.model.name, "data_spec": cfg.data.spec,
            "sample_shape": list(train.sample_shape), "n_classes": train.n_classes,
            "max_value": train.max_value, "binarize": binarize, "is_image": train.is_image,
            "n_train": len(train), "n_val": len(splits.val) if splits.val else 0,
            "n_test": len(splits.test) if splits.test else 0,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "status": "running"}


def _epoch_writer(path: Path):
    """Callback: append the metrics row, save last weights, and best weights when improved."""
    def on_epoch_end(trainer: Trainer, row: dict) -> None:
        with open(path / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
        save_weights(trainer.model, path, "last")
        if row["best"]:
            save_weights(trainer.model, path, "best")
    return on_epoch_end


def train(config: RunConfig | dict) -> Run:
    """Train a model as configured and write its run directory.

    Returns the loaded :class:`~vaekit.run.Run` (best weights). ``run.info["test"]`` holds test-split
    metrics (negative ELBO, rate, distortion, bits/dim) when the data has a test split.
    """
    cfg = config if isinstance(config, RunConfig) else from_dict(RunConfig, config)
    seed_everything(cfg.train.seed)
    splits, pre = load_data(cfg.data)
    device = resolve_device(cfg.train.device)
    model = build_model(cfg.model, splits.train.sample_shape, splits.train.n_classes).to(device)
    path = new_run_dir(cfg)
    info = run_info(cfg, splits, cfg.data.binarize)
    write_run_files(path, cfg, info, pre)
    log.info("training %s on %s -> %s", cfg.model.name, cfg.data.spec, path)
    trainer = Trainer(model, splits, pre, cfg.train, device)
    trainer.on_epoch_end.append(_epoch_writer(path))
    history = trainer.fit()
    return finish_run(path, info, splits, history, device)


def finish_run(path: Path, info: dict, splits: Splits, history: list[dict], device: torch.device) -> Run:
    """Evaluate the best weights on the test split, draw the figures, mark the run finished, write report.html."""
    run = open_run(path, "best", device)
    eval_set = splits.test or splits.val or splits.train
    write_run_figures(run.model, eval_set, run.preprocessor, history, path)
    if splits.test is not None:
        info["test"] = elbo_stats(run.model, splits.test, run.preprocessor, run.config.train.eval_batch_size, device)
    info.update(status="finished", epochs_done=len(history),
                best_epoch=max((r["epoch"] for r in history if r["best"]), default=None))
    write_json(path / "run.json", info)
    run.info = info
    write_report(run, eval_set, history)
    return run
