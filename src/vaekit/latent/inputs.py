"""Inputs for latent-space tools: a run's data split, chosen or random items, and image files."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from ..data import Dataset
from ..data.sources.images import DECODE_ERRORS, open_image
from ..device import device_of
from ..errors import DataError
from ..run import Run, check_compatible, load_eval_splits


def load_split(run: Run, spec: str | None = None, split: str | None = None) -> Dataset:
    """One split of the run's data (or of data ``spec`` prepared with the run's data settings).

    Args:
        spec: a data spec such as ``mnist:PATH``; None uses the run's own.
        split: "train", "val" or "test"; None picks test, else validation, else train.
    Raises DataError when the examples do not fit the model (shape; labels for conditional models).
    """
    splits = load_eval_splits(run, spec)
    ds = splits.get(split) if split else (splits.test or splits.val or splits.train)
    check_compatible(run, ds)
    return ds


def choose(ds: Dataset, indices: Sequence[int] | None = None, n: int = 8, seed: int = 0) -> torch.Tensor:
    """Positions of the items to use: ``indices`` when given (checked), else ``n`` seeded random ones."""
    if indices is not None:
        bad = [i for i in indices if not -len(ds) <= i < len(ds)]
        if bad:
            raise DataError(f"index {bad[0]} is out of range for {ds.name or 'the data'} ({len(ds)} examples)")
        return torch.tensor([i % len(ds) for i in indices], dtype=torch.long)
    if n < 1:
        raise DataError(f"need at least one item, got n={n}")
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))
    return perm[:n]


def batch(run: Run, ds: Dataset, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Model inputs ``(B, *shape)`` and labels ``(B,)`` (None when unlabelled) on the model's device."""
    device = device_of(run.model)
    y = None if ds.y is None else ds.y[index].to(device)
    return run.preprocessor(ds.x[index].to(device)), y


def load_images(run: Run, paths: Sequence[str | Path], resize: bool = False) -> torch.Tensor:
    """Image files as model inputs ``(K, C, H, W)``: converted to the run's channels and scale.

    Files must already have the model's height and width unless ``resize`` (Lanczos) is set.
    Raises DataError for unreadable files, wrong sizes, or runs whose data are not images.
    """
    shape = tuple(run.info["sample_shape"])
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise DataError(f"image files need a model of 1- or 3-channel images; this run's examples have shape {shape}")
    images = [_read_image(Path(p), shape, resize) for p in paths]
    device = device_of(run.model)
    raw = torch.from_numpy(np.stack(images)).to(device) * run.info["max_value"]  # (K, C, H, W) data scale
    return run.preprocessor(raw)


def _read_image(path: Path, shape: tuple[int, int, int], resize: bool) -> np.ndarray:
    """``(C, H, W)`` float32 in [0, 1]."""
    c, h, w = shape
    with open_image(path) as img:  # too many pixels (a decompression bomb): a DataError, nothing decoded
        try:
            img = img.convert("L" if c == 1 else "RGB")
        except DECODE_ERRORS as exc:
            raise DataError(f"{path}: unreadable image ({exc.__class__.__name__}: {exc})") from None
    if img.size != (w, h):
        if not resize:
            raise DataError(f"{path}: image is {img.width}x{img.height} pixels but the model takes {w}x{h}; "
                            "resize it (CLI: --resize)")
        img = img.resize((w, h), Image.LANCZOS)
    arr = np.asarray(img, dtype=np.float32) / 255.0  # (H, W) or (H, W, 3)
    return arr[None] if c == 1 else arr.transpose(2, 0, 1)
