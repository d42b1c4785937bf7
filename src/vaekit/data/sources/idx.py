"""IDX files (the MNIST family: MNIST, Fashion-MNIST, KMNIST, EMNIST), raw or gzip-compressed.

Format: 2 zero bytes, a type code (0x08 = uint8), the number of dimensions n, n big-endian int32
sizes, then the raw data. Images are magic 2051 (n, rows, cols); labels 2049 (n).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from .. import SOURCES, DataConfig
from ..dataset import Dataset, SourceData

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_bytes(path: Path) -> bytes:
    """File contents, transparently gunzipped for ``.gz``; corrupt/truncated files raise DataError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip file ({exc})") from None


def parse_idx(data: bytes, name: str = "idx") -> np.ndarray:
    """Decode IDX bytes into an array of the stored shape."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(f"{name}: not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    ndim = data[3]
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise DataError(f"{name}: IDX header truncated")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[data[2]])
    expected = 4 + 4 * ndim + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise DataError(f"{name}: IDX size mismatch: header says {dims} ({expected} bytes), file has {len(data)}")
    return np.frombuffer(data, dtype, offset=4 + 4 * ndim).reshape(dims)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw)."""
    path = Path(path)
    return parse_idx(read_bytes(path), str(path))


def _find(folder: Path, patterns: tuple[str, ...]) -> Path | None:
    for pattern in patterns:
        hits = sorted(folder.glob(pattern))
        if hits:
            return hits[0]
    return None


def _split_files(folder: Path, split: str) -> tuple[Path | None, Path | None]:
    names = ("train",) if split == "train" else ("t10k", "test")
    images = _find(folder, tuple(f"*{n}-images*idx3-ubyte*" for n in names) + tuple(f"*{n}-images*" for n in names))
    labels = _find(folder, tuple(f"*{n}-labels*idx1-ubyte*" for n in names) + tuple(f"*{n}-labels*" for n in names))
    return images, labels


def load_idx_pair(images: Path, labels: Path | None) -> Dataset:
    """Images ``(N, rows, cols)`` [+ labels ``(N,)``] -> Dataset of ``(N, 1, rows, cols)`` uint8."""
    x = read_idx(images)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise DataError(f"{images}: expected uint8 images of shape (N, rows, cols), got {x.dtype} {x.shape}")
    y = None
    if labels is not None:
        y = read_idx(labels)
        if y.ndim != 1:
            raise DataError(f"{labels}: expected labels of shape (N,), got {y.shape}")
        if len(y) != len(x):
            raise DataError(f"{labels}: {len(y)} labels for {len(x)} images in {images.name}")
        y = torch.from_numpy(y.astype(np.int64))
    return Dataset(x=torch.from_numpy(x.copy()).unsqueeze(1), y=y, max_value=255.0, name=str(images))


def load_idx_folder(folder: str | Path) -> SourceData:
    """A folder with train (and optionally t10k/test) image and label files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such data folder")
    train_images, train_labels = _split_files(folder, "train")
    if train_images is None:
        raise DataError(f"{folder}: no '*train-images*' IDX file found")
    train = load_idx_pair(train_images, train_labels)
    test_images, test_labels = _split_files(folder, "test")
    test = load_idx_pair(test_images, test_labels) if test_images is not None else None
    if test is not None and test.y is not None and train.y is not None:
        n_classes = max(train.n_classes, test.n_classes)
        train.n_classes = test.n_classes = n_classes
    return SourceData(train=train, test=test)


@SOURCES.register("mnist")
@SOURCES.register("idx")
def idx_source(arg: str | None, cfg: DataConfig) -> SourceData:
    """``mnist:FOLDER`` / ``idx:FOLDER`` (or ``idx:FILE`` for one images file)."""
    if not arg:
        raise DataError("the idx/mnist source needs a path, e.g. mnist:/data/mnist")
    path = Path(arg).expanduser()
    if path.is_file():
        return SourceData(train=load_idx_pair(path, None))
    return load_idx_folder(path)
