"""Run directories: what a training run writes and how it is loaded back.

Layout of ``runs/<name>/``::

    config.yaml            the full resolved RunConfig
    run.json               data facts the model needs (sample shape, classes, scaling), status, and
                           ``history``: one entry per command that ran on the run (see append_history)
    model.safetensors      last weights        best.safetensors   best validation weights
    preprocess.safetensors standardization statistics (when used)
    columns.json           the fitted columns of table data (kinds, categories, statistics)
    metrics.jsonl          one JSON object per epoch
    checkpoint/            the newest complete training checkpoint (see vaekit.train.checkpoint)
    reconstructions.png  samples.png  loss.png
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import itertools
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
import yaml

from . import likelihoods
from .config import from_dict, read_yaml, to_dict
from .data import Dataset, Preprocessor, Splits, load_data
from .data.preprocess import BINARIZE_MODES, model_batches
from .errors import CheckpointError, ConfigError, DataError
from .io import (check_fields, check_file_name, clean_temp_files, load_tensors, read_json, save_tensors,
                 tensor_shapes, write_json, write_text)
from .limits import class_limit
from .models import VAE, build_model, meta_model
from .tabular.codec import TableCodec
from .train.config import RunConfig

log = logging.getLogger(__name__)
WEIGHTS = {"best": "best.safetensors", "last": "model.safetensors"}
INFO_KEYS = ("sample_shape", "max_value", "binarize")
COLUMNS = "columns.json"


@dataclass
class Run:
    """A loaded run: its folder, config, data facts, model (eval mode) and preprocessor.

    ``columns`` holds the fitted columns of table data (None for other data): pass it to
    ``load_data(..., columns=run.columns)`` to read new tables as the run did, and use its ``decode``
    to turn model outputs back into a table. ``path`` is None for a run trained in memory.
    """

    path: Path | None
    config: RunConfig
    info: dict
    model: VAE
    preprocessor: Preprocessor
    columns: TableCodec | None = None


def new_run_dir(cfg: RunConfig) -> Path:
    """Create a fresh run folder ``out_dir/name`` (``name-2``, ``name-3``... if taken).

    Race-free: ``mkdir`` is the test, so two processes starting at once get two folders.
    """
    base = Path(cfg.out_dir).expanduser()
    name = check_file_name(cfg.name or f"{cfg.model.name}-{cfg.data.source[0]}", "name")
    if base.exists() and not base.is_dir():
        raise ConfigError(f"out_dir {base}: exists and is not a folder")
    try:
        base.mkdir(parents=True, exist_ok=True)
        for i in itertools.count(1):
            path = base / (name if i == 1 else f"{name}-{i}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    except OSError as exc:
        raise ConfigError(f"out_dir {base}: cannot create the run folder {name} ({exc.strerror or exc})") from None
    raise AssertionError("unreachable")


@contextlib.contextmanager
def lock_run(path: Path) -> Iterator[None]:
    """Hold the run folder's lock while training or resuming it: a second process gets a CheckpointError.

    The lock is an exclusive ``flock`` on the folder itself (no lock file; the kernel releases it when
    the process ends, however it ends). While it is held, what killed writers left behind (``.*.tmp``
    files and folders in the run folder and its subfolders) is removed.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock
        fcntl = None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CheckpointError(f"{path}: another vaekit process is training or resuming this run; "
                                  "wait for it to end (or stop it) and try again") from None
        except OSError as exc:  # a file system without flock (some network mounts)
            log.warning("%s: cannot lock the run folder (%s); make sure no other process trains it", path,
                        exc.strerror or exc)
        for folder in (path, *(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))):
            for leftover in clean_temp_files(folder):
                log.info("removed %s, left by an interrupted write", leftover)
        yield
    finally:
        os.close(fd)


def write_run_files(path: Path, cfg: RunConfig, info: dict, pre: Preprocessor,
                    columns: TableCodec | None = None) -> None:
    """Save the resolved config, data facts, preprocessing statistics and the columns of a table."""
    write_text(path / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
    save_info(path, info)
    if pre.state():
        save_tensors(path / "preprocess.safetensors", pre.state())
    if columns is not None:
        write_json(path / COLUMNS, columns.to_json())


def read_columns(path: Path) -> TableCodec | None:
    """The fitted columns of a run trained on a table (``columns.json``), or None."""
    file = path / COLUMNS
    return TableCodec.from_json(read_json(file), str(file)) if file.exists() else None


def save_weights(model: VAE, path: Path, which: str) -> None:
    save_tensors(path / WEIGHTS[which], model.state_dict(), metadata={"model": model.config.name})


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    if not (path / "config.yaml").is_file():
        raise CheckpointError(f"{path}: not a vaekit run directory (no config.yaml)")
    try:
        return from_dict(RunConfig, read_yaml(path / "config.yaml"))
    except ConfigError as exc:
        raise CheckpointError(f"{path / 'config.yaml'}: {exc}") from None


def _shape_ok(v) -> bool:
    return (isinstance(v, list) and 1 <= len(v) <= 3 and all(type(d) is int and 0 < d <= MAX_SAMPLE_DIMS for d in v)
            and math.prod(v) <= MAX_SAMPLE_DIMS)


def _count_ok(v) -> bool:
    return type(v) is int and v >= 0


def _number_ok(v) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


#: run.json: what each known key must hold (other keys are kept as they are).
INFO_FIELDS = {
    "sample_shape": _shape_ok, "max_value": lambda v: _number_ok(v) and v > 0,
    "binarize": lambda v: v in BINARIZE_MODES, "n_classes": lambda v: v is None or type(v) is int and v >= 1,
    "n_train": _count_ok, "n_val": _count_ok, "n_test": _count_ok, "epochs_done": _count_ok, "resumed": _count_ok,
    "best_epoch": lambda v: v is None or type(v) is int, "is_image": bool, "test": dict,
    "status": str, "error": str, "data_spec": str, "model": str, "created": str, "vaekit_version": str,
}
#: Values per example a run may declare (sample_shape), far above any real data.
MAX_SAMPLE_DIMS = 2**28


def read_info(path: Path) -> dict:
    """``run.json`` of a run directory, checked for the facts a model is rebuilt from (and their types)."""
    where = path / "run.json"
    info = check_fields(read_json(where), INFO_FIELDS, str(where))
    if not all(k in info for k in INFO_KEYS):
        raise CheckpointError(f"{where}: not a vaekit run record (needs {', '.join(INFO_KEYS)})")
    n_classes = info.get("n_classes")
    if n_classes is not None and n_classes > class_limit(info.get("n_train") or 0):
        raise CheckpointError(f"{where}: 'n_classes' {n_classes} is more than the data can have; "
                              "the file was modified or damaged")
    return info


@contextlib.contextmanager
def _info_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path/.run.json.lock`` (POSIX; no lock where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    fd = os.open(path / ".run.json.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def save_info(path: Path, info: dict) -> None:
    """Write ``run.json`` from ``info``, keeping the ``history`` already on disk (entries are only
    added by :func:`append_history`, so a long-running writer never drops one)."""
    with _info_lock(path):
        file = path / "run.json"
        if file.is_file():
            with contextlib.suppress(CheckpointError):
                disk = read_json(file)
                if isinstance(disk, dict) and isinstance(disk.get("history"), list):
                    info["history"] = disk["history"]
        write_json(file, info)


def history_entry(command: str, argv: list[str] | None = None, started: float | None = None, **extra) -> dict:
    """One ``history`` entry: the command, its arguments (None: called from Python), when it started."""
    from .version import __version__

    when = datetime.datetime.fromtimestamp(started, datetime.timezone.utc) if started else \
        datetime.datetime.now(datetime.timezone.utc)
    entry = {"command": command, "argv": argv, "via": "cli" if argv is not None else "python",
             "started": when.isoformat(timespec="seconds"), "vaekit_version": __version__}
    return {**entry, **extra}


def append_history(path: str | Path, entry: dict) -> None:
    """Append ``entry`` to ``run.json``'s ``history`` list (read, append, atomic write, under a lock)."""
    path = Path(path)
    with _info_lock(path):
        info = read_json(path / "run.json")
        if not isinstance(info, dict):
            raise CheckpointError(f"{path / 'run.json'}: not a vaekit run record")
        history = info.get("history") if isinstance(info.get("history"), list) else []
        info["history"] = [*history, entry]
        write_json(path / "run.json", info)


#: Metrics-row keys the figures and the report compute with (``train_nelbo``, ``val_rate``, ...).
METRIC_TERMS = ("_nelbo", "_rate", "_distortion")


def metrics_row_ok(row, first: dict | None = None) -> bool:
    """Whether ``row`` is a usable metrics row (``metrics.jsonl``, checkpoint history): a mapping with an
    integer ``epoch`` whose loss terms are numbers, holding every loss term the ``first`` row holds."""
    if not isinstance(row, dict) or type(row.get("epoch")) is not int:
        return False
    if not all(type(v) in (int, float) for k, v in row.items() if k.endswith(METRIC_TERMS)):
        return False
    return all(k in row for k in (first or {}) if k.endswith(METRIC_TERMS))


def build_from_run(cfg: RunConfig, info: dict, columns: TableCodec | None = None,
                   weights: Path | None = None) -> VAE:
    """The run's model, built from its config and ``run.json``.

    Args:
        columns: the run's table columns (``read_columns``), for table data.
        weights: a safetensors file the model must match: keys and shapes are compared (from the file's
            header, on a weightless model) before any weight is allocated, so a tampered config or
            ``run.json`` cannot make vaekit allocate more than the file holds.
    """
    try:
        if weights is not None:
            _check_shapes(meta_model(cfg.model, tuple(info["sample_shape"]), info.get("n_classes"), columns),
                          tensor_shapes(weights), weights)
        return build_model(cfg.model, tuple(info["sample_shape"]), info.get("n_classes"), columns)
    except (TypeError, ValueError, KeyError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise CheckpointError(f"run.json: cannot rebuild the model ({exc})") from None


def _check_shapes(model: VAE, shapes: dict[str, tuple[int, ...]], source: Path) -> None:
    """Missing/unexpected keys or shape mismatches between ``model`` and ``shapes`` are one clear error."""
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(own) - set(shapes))
    unexpected = sorted(set(shapes) - set(own))
    bad = [k for k in own if k in shapes and own[k] != tuple(shapes[k])]
    if missing or unexpected or bad:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}" if unexpected
                  else f"shape mismatch for {bad[0]}: {tuple(shapes[bad[0]])} vs {own[bad[0]]}")
        raise CheckpointError(f"{source}: weights do not match the config ({detail})")


def load_state(model: VAE, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Load weights strictly: missing/unexpected keys or shape mismatches are one clear error."""
    _check_shapes(model, {k: tuple(v.shape) for k, v in tensors.items()}, source)
    model.load_state_dict(tensors)


def load_preprocessor(path: Path, info: dict) -> Preprocessor:
    """The run's preprocessor; its statistics must have the examples' shape (checked: no surprises later)."""
    file = path / "preprocess.safetensors"
    state = load_tensors(file) if file.exists() else {}
    shape = tuple(info["sample_shape"])
    if state and (set(state) != {"mean", "std"} or any(tuple(t.shape) != shape or not torch.isfinite(t).all()
                                                       for t in state.values()) or not (state["std"] > 0).all()):
        raise CheckpointError(f"{file}: expected finite 'mean' and positive 'std' of shape {shape}; "
                              "the file was modified or damaged")
    return Preprocessor.from_state(info["max_value"], info["binarize"], state)


def open_run(path: str | Path, weights: str = "best", device: str | torch.device = "cpu") -> Run:
    """Load a run directory; ``weights`` is "best" (validation) or "last"."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise CheckpointError(f"{path}: no such run directory")
    if weights not in WEIGHTS:
        raise ConfigError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
    cfg = load_config(path)
    info = read_info(path)
    columns = read_columns(path)
    file = path / WEIGHTS[weights]
    if weights == "best" and not file.exists():
        file = path / WEIGHTS["last"]
    model = build_from_run(cfg, info, columns, weights=file)
    load_state(model, load_tensors(file), file)
    pre = load_preprocessor(path, info)
    return Run(path=path, config=cfg, info=info, model=model.to(device).eval(), preprocessor=pre, columns=columns)


def load(path: str | Path, weights: str = "best", device: str | torch.device = "cpu") -> VAE:
    """The trained model of a run directory, in eval mode."""
    return open_run(path, weights, device).model


def load_eval_splits(run: Run, data: str | None) -> Splits:
    """The run's data splits, or those of ``data`` (a spec) loaded with the run's data settings (and,
    for tables, encoded with the run's columns)."""
    cfg = run.config.data if data is None else dataclasses.replace(run.config.data, spec=data)
    splits, _ = load_data(cfg, run.columns)
    return splits


def check_compatible(run: Run, ds: Dataset) -> None:
    """Raise DataError when ``ds`` does not fit the run's model (shape, labels)."""
    shape = tuple(run.model.sample_shape)
    if ds.sample_shape != shape:
        raise DataError(f"{ds.name}: examples of shape {ds.sample_shape} do not fit the model's {shape}")
    if run.model.conditional and ds.y is None:
        raise DataError(f"{ds.name}: the conditional model needs labelled data")
    check_every_label(run.model, ds)
    if (run.model.conditional or run.model.classifies) and ds.y is not None:  # classes the model knows
        if run.model.n_classes is not None and int(ds.y.max()) >= run.model.n_classes:
            raise DataError(f"{ds.name}: labels up to {int(ds.y.max())} but the model knows "
                            f"{run.model.n_classes} classes")
    check_likelihood(run.config.model.likelihood, ds, run.preprocessor)


def check_every_label(model: VAE, ds: Dataset | None, split: str = "") -> None:
    """A conditional model (cvae) reads every example's label: unlabelled examples (-1) in ``ds`` are a
    DataError naming how many and the fix. ``split``: "train", "val" or "test", named in the message."""
    if ds is None or ds.y is None or not model.conditional:
        return
    n = int((ds.y < 0).sum())
    if n:
        what = {"train": "training ", "val": "validation ", "test": "test "}.get(split, "")
        raise DataError(f"{ds.name}: {n} {what}examples are unlabelled (-1): {model.config.name} needs every "
                        "label; use m2 or m1m2, or drop them")


def check_likelihood(name: str, ds: Dataset, pre: Preprocessor) -> None:
    """Raise DataError when the model-space values of ``ds`` lie outside likelihood ``name``'s support."""
    error = likelihoods.support_error(name, model_batches(ds, pre))
    if error is not None:
        raise DataError(f"{ds.name}: the {name} likelihood {error}; train with --likelihood auto (or "
                        "gaussian_learned), or rescale the data")


def resolve_likelihood(cfg: RunConfig, splits: Splits, pre: Preprocessor) -> RunConfig:
    """``cfg`` with ``model.likelihood: auto`` replaced by the data's choice, checked against the
    training data (a DataError names the fix when the data do not fit)."""
    name = cfg.model.likelihood
    if name == likelihoods.AUTO:
        name = likelihoods.choose(model_batches(splits.train, pre), splits.likelihood)
        log.info("likelihood: %s (model.likelihood auto, from the data)", name)
    check_likelihood(name, splits.train, pre)
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, likelihood=name))


#: Columns of :func:`run_summary` (``vaekit runs``), in display order.
SUMMARY_COLUMNS = ("name", "model", "data", "epochs", "best_val_nelbo", "test_nelbo", "nll", "status", "created")


def find_runs(folder: str | Path) -> list[Path]:
    """Run folders (a ``run.json`` beside a ``config.yaml``) at any depth under ``folder``."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder")
    return sorted(p.parent for p in folder.rglob("run.json") if (p.parent / "config.yaml").is_file())


def run_summary(path: Path) -> dict:
    """One row about a run folder (:data:`SUMMARY_COLUMNS` plus ``path``), from run.json,
    metrics.jsonl and evaluation.json; what a folder lacks is None (status "unreadable" when run.json is)."""
    row = dict.fromkeys(SUMMARY_COLUMNS)
    row.update(name=path.name, path=str(path))
    try:
        info = read_json(path / "run.json")
    except CheckpointError:
        return {**row, "status": "unreadable"}
    if not isinstance(info, dict):
        return {**row, "status": "unreadable"}
    scores = [r.get("val_nelbo", r.get("train_nelbo")) for r in _metric_rows(path)]
    scores = [s for s in scores if isinstance(s, (int, float))]
    test = info.get("test") if isinstance(info.get("test"), dict) else {}
    row.update(model=info.get("model"), data=info.get("data_spec"), status=info.get("status"),
               created=info.get("created"), epochs=info.get("epochs_done", len(scores)),
               best_val_nelbo=min(scores, default=None), test_nelbo=test.get("nelbo"))
    with contextlib.suppress(CheckpointError, AttributeError):
        row["nll"] = read_json(path / "evaluation.json").get("nll")
    return row


def _metric_rows(path: Path) -> list[dict]:
    """The readable rows of ``metrics.jsonl`` (a truncated last line is skipped)."""
    rows = []
    with contextlib.suppress(OSError):
        for line in (path / "metrics.jsonl").read_text().splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if isinstance(row, dict):
                    rows.append(row)
    return rows
