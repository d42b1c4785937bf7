"""Statically binarized MNIST in the original ``.amat`` text format (Larochelle & Murray 2011).

One image per line, its 784 pixels as space-separated ``0``/``1`` values (``.amat`` or ``.amat.gz``);
the folder holds ``binarized_mnist_{train,valid,test}.amat``: 50,000 / 10,000 / 10,000 images, no
labels. Images load as ``(N, 1, 28, 28)`` uint8 with ``max_value`` 1 (lines of another square
length L*L load as ``(N, 1, L, L)``, other lengths as flat ``(N, D)`` vectors).

Specs: ``amat:FOLDER`` (train, valid -> validation, test) or ``amat:FILE`` (one file as training data).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from .. import SOURCES, DataConfig
from ..dataset import Dataset, SourceData
from .common import existing_path, find_file, read_bytes

_ZERO, _ONE, _SPACE, _NEWLINE = b"0"[0], b"1"[0], b" "[0], b"\n"[0]


def _parse_canonical(data: bytes) -> np.ndarray | None:
    """The fast path for files laid out exactly as published ("v v ... v\\n"): ``(N, D)`` or None."""
    width = data.find(b"\n") + 1
    if width < 2 or width % 2 or len(data) % width:
        return None
    rows = np.frombuffer(data, np.uint8).reshape(-1, width)  # (N, 2 D)
    values, gaps = rows[:, 0::2], rows[:, 1::2]  # (N, D), (N, D)
    if not ((gaps[:, :-1] == _SPACE).all() and (gaps[:, -1] == _NEWLINE).all()):
        return None
    if not ((values == _ZERO) | (values == _ONE)).all():
        return None
    return values - _ZERO


def _parse_lines(data: bytes, name: str) -> np.ndarray:
    """General path: any whitespace, blank lines skipped; every line must hold D tokens 0 or 1."""
    rows, width = [], None
    for number, line in enumerate(data.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        joined = b"".join(tokens)
        row = np.frombuffer(joined, np.uint8) - _ZERO
        if len(joined) != len(tokens) or (row > 1).any():
            bad = next(t for t in tokens if t not in (b"0", b"1"))
            raise DataError(f"{name}: line {number}: expected values 0 or 1, found {bytes(bad[:20])!r}")
        width = width or len(tokens)
        if len(tokens) != width:
            raise DataError(f"{name}: line {number} has {len(tokens)} values, line 1 has {width}")
        rows.append(row)
    if not rows:
        raise DataError(f"{name}: no data lines")
    return np.stack(rows)


def parse_amat(data: bytes, name: str = "amat") -> np.ndarray:
    """Decode ``.amat`` text into a ``(N, D)`` uint8 array of 0/1 values."""
    values = _parse_canonical(data)
    return _parse_lines(data, name) if values is None else values


def read_amat(path: str | Path) -> Dataset:
    """One ``.amat`` / ``.amat.gz`` file as a Dataset (images when each line is a square)."""
    path = Path(path)
    x = torch.from_numpy(parse_amat(read_bytes(path), str(path)))  # (N, D)
    side = math.isqrt(x.shape[1])
    if side * side == x.shape[1]:
        x = x.reshape(-1, 1, side, side)  # (N, 1, L, L)
    return Dataset(x=x, max_value=1.0, name=str(path))


def load_amat_folder(folder: Path) -> SourceData:
    """``*train.amat[.gz]`` (required), ``*valid.amat[.gz]`` and ``*test.amat[.gz]``."""
    files = {split: find_file(folder, (f"*{split}.amat", f"*{split}.amat.gz")) for split in ("train", "valid", "test")}
    if files["train"] is None:
        raise DataError(f"{folder}: no '*train.amat' or '*train.amat.gz' file found")
    train, val, test = (None if p is None else read_amat(p) for p in files.values())
    for ds in (val, test):
        if ds is not None and ds.sample_shape != train.sample_shape:
            raise DataError(f"{ds.name}: examples of shape {ds.sample_shape}, training file has {train.sample_shape}")
    return SourceData(train=train, val=val, test=test)


@SOURCES.register("amat")
def amat_source(arg: str | None, cfg: DataConfig) -> SourceData:
    """``amat:FOLDER`` or ``amat:FILE``."""
    path = existing_path(arg, "amat", "/data/binarized_mnist")
    return load_amat_folder(path) if path.is_dir() else SourceData(train=read_amat(path))
