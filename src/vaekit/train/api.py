"""Training a run folder: :func:`train` starts one, :func:`resume` continues one exactly from its
last checkpoint, on one process or under ``torchrun`` (rank 0 writes every file).

``run.json`` always says how the run ended: ``finished``, ``stopped`` (too many skipped steps; the
last good weights are saved), ``interrupted`` (Ctrl-C) or ``failed`` (any other error). What a
finished run gets besides its test metrics (pictures, the HTML report) is the caller's ``finish``
function: :mod:`vaekit.pipeline` passes the full one.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import random
from pathlib import Path
from typing import Callable, ContextManager

import numpy as np
import torch
import yaml

from ..config import from_dict, set_dotted, to_dict
from ..data import Splits, load_data
from ..device import resolve_device
from ..errors import CheckpointError, ConfigError, TrainingError
from ..evaluate.likelihood import elbo_stats
from ..io import write_text
from ..models import VAE, build_model
from ..run import (Run, append_history, build_from_run, history_entry, load_config, load_state, lock_run, new_run_dir,
                   open_run, read_columns, read_info, resolve_likelihood, save_info, save_weights, write_run_files)
from ..version import __version__
from . import distributed
from .checkpoint import CHECKPOINT_DIR, load_checkpoint
from .config import RunConfig
from .distributed import Dist
from .loop import Trainer

log = logging.getLogger(__name__)
#: Settings that may change when a run is resumed (everything else must stay as the run began).
RESUMABLE = ("train.epochs", "train.lr", "train.device", "train.progress", "train.max_nonfinite",
             "train.grad_clip", "train.eval_batch_size", "train.precision", "train.compile",
             "train.checkpoint_every", "train.checkpoint_minutes", "train.skip_threshold", "train.tensorboard",
             "train.log_every", "train.mlflow", "train.mlflow_uri")
#: ``finish(path, info, splits, history, device) -> Run``: the end of a finished run (rank 0).
Finish = Callable[[Path, dict, Splits, list, torch.device], Run]
#: ``track(trainer, path, cfg, info)``: a context manager around training and ``finish`` that hooks
#: experiment trackers onto the trainer (rank 0; :func:`vaekit.tracking.tracked`).
Track = Callable[[Trainer, Path, RunConfig, dict], ContextManager]


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
            "n_test": len(splits.test) if splits.test else 0, "class_names": splits.class_names,
            **({"columns": list(splits.extra["columns"])} if splits.extra.get("columns") else {}),
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


def train(config: RunConfig | dict, finish: Finish | None = None, history: dict | None = None,
          track: Track | None = None) -> Run:
    """Train a model as configured and write its run directory.

    ``model.likelihood: auto`` is resolved from the data, and the likelihood is checked against it,
    before anything is written. Returns the loaded :class:`~vaekit.run.Run` (best weights) that
    ``finish`` (default :func:`complete`) returns. Under ``torchrun`` every process trains its shard
    and returns the same run; rank 0 writes it. ``history`` is the entry recorded in ``run.json``'s
    history (the CLI passes its command line; default: a ``train`` entry marked as called from Python).
    ``track`` hooks experiment trackers around training (:mod:`vaekit.pipeline` passes them).
    """
    cfg = config if isinstance(config, RunConfig) else from_dict(RunConfig, config)
    device = resolve_device(cfg.train.device)
    d = distributed.setup(device)
    try:
        seed_everything(cfg.train.seed)
        splits, pre = load_data(cfg.data)
        cfg = resolve_likelihood(cfg, splits, pre)
        model = build_model(cfg.model, splits.train.sample_shape, splits.train.n_classes, splits.columns)
        model.warm_start(lambda run_dir: open_run(run_dir).model)  # weights of runs it builds on (M1+M2's M1)
        trainer = _trainer(model, splits, pre, cfg, device, d)
        info = run_info(cfg, splits, cfg.data.binarize)
        path = new_run_dir(cfg) if d.main else None
        with lock_run(path) if d.main else contextlib.nullcontext():
            if d.main:
                write_run_files(path, cfg, info, pre, splits.columns)
                append_history(path, history or history_entry("train"))
            path = Path(distributed.broadcast_text(str(path), d, device))
            log.info("training %s on %s -> %s", cfg.model.name, cfg.data.spec, path)
            return _fit(trainer, path, info, splits, finish or complete, _tracking(track, trainer, path, cfg, info))
    finally:
        distributed.teardown(d)


def resume(run_dir: str | Path, overrides: list[tuple[str, object]] = (), finish: Finish | None = None,
           history: dict | None = None, track: Track | None = None) -> Run:
    """Continue a run from its last checkpoint: same weights, optimizer, schedule, RNG streams and
    position in the epoch, so the result equals an uninterrupted run (bit for bit on CPU).

    Args:
        run_dir: the run directory.
        overrides: ``("train.epochs", 50)`` pairs; only keys in :data:`RESUMABLE` may change.
        history: the entry recorded in ``run.json``'s history (default: a ``resume`` entry).
    """
    path = Path(run_dir).expanduser()
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such run directory")
    with lock_run(path) if distributed.is_main_process() else contextlib.nullcontext():
        return _resume(path, overrides, finish, history, track)


def _resume(path: Path, overrides: list[tuple[str, object]], finish: Finish | None, history: dict | None,
            track: Track | None) -> Run:
    """:func:`resume` while holding the run's lock."""
    cfg = resume_config(path, overrides)
    info = read_info(path)
    ckpt = load_checkpoint(path)
    if ckpt.meta.get("model_config") != json.loads(json.dumps(to_dict(cfg.model))):
        raise CheckpointError(f"{path / 'config.yaml'}: model section does not match the checkpoint")
    state = ckpt.meta.get("state")
    done = state.get("epoch", 0) if isinstance(state, dict) else 0
    if info.get("status") == "finished" and done >= cfg.train.epochs:
        raise ConfigError(f"{path}: already finished {done} epochs; pass --epochs N with N > {done} to train longer")
    device = resolve_device(cfg.train.device)
    d = distributed.setup(device)
    try:
        splits, pre = load_data(cfg.data, read_columns(path))
        resolve_likelihood(cfg, splits, pre)  # checks the saved likelihood against the data
        model = _model_for(cfg, info, splits, path)
        load_state(model, ckpt.model, path / CHECKPOINT_DIR)
        trainer = _trainer(model, splits, pre, cfg, device, d)
        trainer.restore(ckpt)
        if d.main:
            append_history(path, history or history_entry("resume"))
            _reopen(path, cfg, info, trainer.state.history)
        log.info("resuming %s at epoch %d, step %d", path, trainer.state.epoch, trainer.state.step)
        return _fit(trainer, path, info, splits, finish or complete, _tracking(track, trainer, path, cfg, info))
    finally:
        distributed.teardown(d)


def resume_config(path: Path, overrides: list[tuple[str, object]] = ()) -> RunConfig:
    """The run's saved config with the allowed ``overrides`` applied."""
    cfg = load_config(path)
    for key, _ in overrides:
        if key not in RESUMABLE:
            raise ConfigError(f"{key} cannot change when resuming (allowed: {', '.join(RESUMABLE)})")
    data = to_dict(cfg)
    for key, value in overrides:
        set_dotted(data, key, value)
    return from_dict(RunConfig, data)


def _model_for(cfg: RunConfig, info: dict, splits: Splits, path: Path) -> VAE:
    """The run's model, after checking the data is the data the run started on."""
    seen = (info.get("n_train"), info.get("sample_shape"))
    if seen != (len(splits.train), list(splits.train.sample_shape)):
        raise CheckpointError(f"{path}: data {cfg.data.spec!r} no longer matches the run "
                              f"(run: {seen[0]} examples of shape {seen[1]}, now {len(splits.train)} "
                              f"of {list(splits.train.sample_shape)})")
    return build_from_run(cfg, info, splits.columns)


def _trainer(model: VAE, splits: Splits, pre, cfg: RunConfig, device: torch.device, d: Dist) -> Trainer:
    trainer = Trainer(model, splits, pre, cfg.train, device, dist=d)
    if d.active:  # different sampling noise per rank; rank 0 keeps the single-process stream
        torch.manual_seed(cfg.train.seed + 7919 * d.rank)
    return trainer


def _reopen(path: Path, cfg: RunConfig, info: dict, history: list[dict]) -> None:
    """Rank 0, before resuming: config with overrides, metrics as of the checkpoint, status running."""
    write_text(path / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
    write_text(path / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in history))
    info.update(status="running", resumed=info.get("resumed", 0) + 1)
    save_info(path, info)


def _tracking(track: Track | None, trainer: Trainer, path: Path, cfg: RunConfig, info: dict) -> ContextManager:
    return track(trainer, path, cfg, info) if track is not None and trainer.dist.main else contextlib.nullcontext()


def _fit(trainer: Trainer, path: Path, info: dict, splits: Splits, finish: Finish,
         tracking: ContextManager = contextlib.nullcontext()) -> Run:
    """Train to the end with checkpoints (inside ``tracking``), then ``finish`` on rank 0; run.json
    records any other ending."""
    d = trainer.dist
    trainer.checkpoint_dir = path
    if d.main:
        trainer.on_epoch_end.append(_epoch_writer(path))
    with tracking:
        try:
            history = trainer.fit()
        except TrainingError as exc:
            raise _stop(trainer, path, info, exc) from None
        except BaseException as exc:
            _mark(path, info, d.main, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", exc)
            raise
        try:
            run = finish(path, info, splits, history, trainer.device) if d.main else None
        except BaseException as exc:
            _mark(path, info, d.main, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", exc)
            raise
    distributed.barrier(d)
    return run if run is not None else open_run(path, "best", trainer.device)


def _stop(trainer: Trainer, path: Path, info: dict, exc: TrainingError) -> TrainingError:
    """After a streak of skipped steps: restore the last good state, save it, mark the run stopped."""
    trainer.tally.reset_streak()
    trainer.rollback()  # the weights of the failing steps may be finite but useless
    trainer.save_checkpoint()
    if trainer.dist.main:
        save_weights(trainer.model, path, "last")
        _mark(path, info, True, "stopped", exc)
    return TrainingError(f"{path}: {exc}; saved the last good weights (step {trainer.good_step}); lower "
                         "train.lr or set train.grad_clip / train.skip_threshold and resume")


def _mark(path: Path, info: dict, main: bool, status: str, exc: BaseException) -> None:
    """Record how the run ended in run.json (best effort: the disk may be what failed)."""
    if not main:
        return
    info.update(status=status, error=str(exc) or type(exc).__name__)
    with contextlib.suppress(OSError):
        save_info(path, info)


def complete(path: Path, info: dict, splits: Splits, history: list[dict], device: torch.device) -> Run:
    """Mark a run finished: test-split metrics of the best weights and the run's warnings in run.json."""
    run = open_run(path, "best", device)
    if splits.test is not None:
        info["test"] = elbo_stats(run.model, splits.test, run.preprocessor, run.config.train.eval_batch_size, device)
    info.update(status="finished", epochs_done=len(history), warnings=run_warnings(history),
                best_epoch=max((r["epoch"] for r in history if r["best"]), default=None))
    save_info(path, info)
    run.info = info
    return run


def run_warnings(history: list[dict]) -> list[str]:
    """What a user of the run must know: diverging epochs, weights restored after non-finite updates."""
    out = []
    diverging = [r["epoch"] for r in history if r.get("diverging")]
    if diverging:
        out.append(f"diverging: the -ELBO of epoch(s) {_epochs(diverging)} ended above the untrained model's; "
                   "lower train.lr")
    rolled = [r["epoch"] for r in history if r.get("rolled_back")]
    if rolled:
        out.append(f"non-finite weights were restored to the last good state in epoch(s) {_epochs(rolled)}")
    return out


def _epochs(epochs: list[int]) -> str:
    return ", ".join(map(str, epochs[:10])) + (f" and {len(epochs) - 10} more" if len(epochs) > 10 else "")
