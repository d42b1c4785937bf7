"""Checkpoints: everything a resumed run needs, written atomically, read back without unpickling.

Layout inside a run directory::

    checkpoint/LATEST                       name of the newest complete checkpoint
    checkpoint/step-000000120-1a2b3c4d/
        model.safetensors                   model weights
        trainer.safetensors                 Adam moments and step counts, RNG states (torch CPU/CUDA
                                            per rank, data order), epoch accumulators, skip counters
        state.json                          TrainState (epoch, step, batch within the epoch, history),
                                            optimizer hyperparameters, Python/numpy RNG states, model
                                            config, world size, sha256 of both tensor files

A checkpoint is written into a temporary folder (every file flushed and fsynced), renamed into place,
and only then does ``LATEST`` (itself replaced atomically) name it; older checkpoints are deleted after
that. A crash at any moment therefore leaves the previous complete checkpoint in force. Loading reads
safetensors and JSON only; a missing, truncated or modified file is one :class:`CheckpointError`.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from ..version import __version__
from ..errors import CheckpointError
from ..io import check_fields, fsync_dir, make_temp_dir, read_json, write_bytes, write_json, write_text
from ..run import metrics_row_ok

CHECKPOINT_DIR = "checkpoint"
LATEST = "LATEST"
FORMAT = 1
FILES = ("model.safetensors", "trainer.safetensors")


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _rows(v) -> bool:
    return isinstance(v, list) and all(metrics_row_ok(r, v[0]) for r in v)


#: What state.json must hold (types checked on loading: a tampered file is one CheckpointError).
META_FIELDS = {"state": dict, "optimizer": dict, "aux_optimizer": (dict, type(None)), "scaler": (dict, type(None)),
               "rng": dict, "world_size": lambda v: _count(v) and v >= 1, "model_config": dict}
STATE_FIELDS = {"epoch": _count, "step": _count, "batch": _count, "best_val": (int, float), "best_epoch": int,
                "nonfinite_total": _count, "history": _rows}


@dataclass
class Checkpoint:
    """What :func:`save_checkpoint` writes and :func:`load_checkpoint` returns.

    Attributes:
        model: model ``state_dict`` tensors.
        tensors: everything else that is a tensor (optimizer state, RNG states, accumulators).
        meta: JSON-able rest (see the module docstring).
    """

    model: dict[str, torch.Tensor]
    tensors: dict[str, torch.Tensor]
    meta: dict


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def save_checkpoint(run_dir: str | Path, ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` as the run's newest checkpoint; returns its folder."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    blobs = dict(zip(FILES, (save_bytes(_cpu(ckpt.model)), save_bytes(_cpu(ckpt.tensors)))))
    meta = {**ckpt.meta, "format": FORMAT, "vaekit_version": __version__,
            "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()}}
    name = f"step-{ckpt.meta['state']['step']:09d}-{uuid.uuid4().hex[:8]}"
    tmp = make_temp_dir(folder / name)
    try:
        for file, data in blobs.items():
            write_bytes(tmp / file, data)
        write_json(tmp / "state.json", meta)
        tmp.rename(folder / name)
        fsync_dir(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_text(folder / LATEST, name + "\n")
    for old in folder.iterdir():
        if old.is_dir() and old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return folder / name


def latest_checkpoint(run_dir: str | Path) -> Path:
    """The folder ``LATEST`` names; a clear error when there is none or the pointer is bad."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    pointer = folder / LATEST
    if not pointer.is_file():
        raise CheckpointError(f"{run_dir}: no checkpoint to resume from ({pointer} is missing)")
    name = pointer.read_text(errors="replace").strip()
    if not name.startswith("step-") or "/" in name or "\\" in name or not (folder / name).is_dir():
        raise CheckpointError(f"{pointer}: names no checkpoint folder ({name[:60]!r})")
    return folder / name


def load_checkpoint(run_dir: str | Path) -> Checkpoint:
    """Read and verify the newest checkpoint of a run (checksums, format); never unpickles."""
    path = latest_checkpoint(run_dir)
    meta = read_json(path / "state.json")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("sha256"), dict):
        raise CheckpointError(f"{path / 'state.json'}: not a vaekit checkpoint (format {FORMAT})")
    check_fields(meta, META_FIELDS, str(path / "state.json"))
    check_fields(meta.get("state"), STATE_FIELDS, str(path / "state.json") + " state")
    parts = []
    for file in FILES:
        data = _read(path / file)
        if hashlib.sha256(data).hexdigest() != meta["sha256"].get(file):
            raise CheckpointError(f"{path / file}: checksum does not match state.json (truncated or modified)")
        try:
            parts.append(load_bytes(data))
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{path / file}: not a valid safetensors file ({exc})") from None
    return Checkpoint(model=parts[0], tensors=parts[1], meta=meta)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: unreadable ({exc.strerror or exc})") from None


# --- optimizer state as tensors + JSON --------------------------------------------------------------
def flatten_optimizer(sd: dict, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``optimizer.state_dict()`` into tensors ``{prefix}.{param}.{key}`` and a JSON part."""
    tensors, extra = {}, {}
    for idx, entries in sd["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{idx}.{key}"] = value
            else:
                extra.setdefault(str(idx), {})[key] = value
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "state": extra}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict, prefix: str) -> dict:
    """Inverse of :func:`flatten_optimizer`: a dict for ``optimizer.load_state_dict``."""
    state: dict[int, dict] = {}
    for name, t in tensors.items():
        if name.startswith(prefix + "."):
            idx, key = name[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(idx), {})[key] = t
    for idx, extra in meta["state"].items():
        state.setdefault(int(idx), {}).update(extra)
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


# --- host RNG states as JSON ----------------------------------------------------------------------
def host_rng_state() -> dict:
    """Python ``random`` and numpy global RNG states as JSON-able lists."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss],
            "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]}


def set_host_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
