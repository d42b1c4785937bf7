"""IDX files (the MNIST family: MNIST, Fashion-MNIST, KMNIST, EMNIST), raw or gzip-compressed.

Format (LeCun et al., http://yann.lecun.com/exdb/mnist/): 2 zero bytes, a type code (0x08 = uint8),
the number of dimensions n, n big-endian int32 sizes, then the raw data. Images are magic 2051
(n, rows, cols); labels 2049 (n). EMNIST (Cohen et al. 2017) stores each image transposed; files
whose name contains ``emnist`` are transposed back on reading.

Specs: ``mnist:PATH`` (labels must be 0..9) and ``idx:PATH`` (any labels). PATH is a folder with
``*train-images*`` (and optionally ``*t10k-images*`` / ``*test-images*``) files and their label files,
one images file (its label file is used when it sits beside it), or a folder plus file-name prefix
for folders holding several datasets, e.g. ``idx:/data/emnist/emnist-balanced``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from .. import SOURCES, DataConfig
from ..dataset import Dataset, SourceData
from ...limits import MAX_DECOMPRESSED_BYTES
from .common import find_file, labels_tensor, open_data, read_bytes, read_upto

__all__ = ["load_idx_folder", "load_idx_pair", "parse_idx", "read_bytes", "read_idx"]

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
#: Classes of MNIST, Fashion-MNIST and KMNIST (the ``mnist:`` spec checks labels against it).
MNIST_CLASSES = 10


def parse_header(head: bytes, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """The dtype, dims and header length of IDX bytes starting with ``head`` (at least 4 bytes, and
    the dims when present); a bad magic number or a truncated header is a DataError."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _DTYPES:
        raise DataError(f"{name}: not an IDX file (bad magic number {bytes(head[:4]).hex() or 'empty'})")
    ndim = head[3]
    if ndim == 0 or len(head) < 4 + 4 * ndim:
        raise DataError(f"{name}: IDX header truncated")
    dims = tuple(int(d) for d in np.frombuffer(head, ">u4", count=ndim, offset=4))
    return np.dtype(_DTYPES[head[2]]), dims, 4 + 4 * ndim


def parse_idx(data: bytes, name: str = "idx") -> np.ndarray:
    """Decode IDX bytes into an array of the stored shape (writable when ``data`` is a bytearray)."""
    dtype, dims, offset = parse_header(data[:4 + 4 * (data[3] if len(data) > 3 else 0)], name)
    expected = offset + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        raise DataError(f"{name}: IDX size mismatch: header says {dims} ({expected} bytes), file has {len(data)}")
    return np.frombuffer(data, dtype, offset=offset).reshape(dims)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw), writable.

    The header is read first, then exactly the bytes it declares (a ``.gz`` file is decompressed as
    a stream that stops there), so a damaged or crafted file costs no more memory than the data it
    claims to hold, and at most :data:`~vaekit.limits.MAX_DECOMPRESSED_BYTES`.
    """
    path = Path(path)
    try:
        with open_data(path) as fh:
            head = read_upto(fh, 4, path)
            head += read_upto(fh, 4 * head[3] if len(head) == 4 else 0, path)
            dtype, dims, offset = parse_header(head, str(path))
            size = math.prod(dims) * dtype.itemsize
            if size > MAX_DECOMPRESSED_BYTES:
                raise DataError(f"{path}: IDX header declares {dims} ({size:,} bytes), more than vaekit reads "
                                f"({MAX_DECOMPRESSED_BYTES:,}); the file is damaged or too large")
            body = read_upto(fh, size + 1, path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(body) != size:
        found = "more" if len(body) > size else f"{offset + len(body)}"
        raise DataError(f"{path}: IDX size mismatch: header says {dims} ({offset + size} bytes), file has {found}")
    return np.frombuffer(body, dtype).reshape(dims)


def load_idx_pair(images: Path, labels: Path | None, n_classes: int | None = None) -> Dataset:
    """Images ``(N, rows, cols)`` [+ labels ``(N,)``] -> Dataset of ``(N, 1, rows, cols)`` uint8.

    Args:
        n_classes: when given, labels outside ``[0, n_classes)`` are a DataError.
    """
    x = read_idx(images)
    if x.ndim != 3 or x.dtype != np.uint8 or 0 in x.shape[1:]:
        raise DataError(f"{images}: expected uint8 images of shape (N, rows, cols), got {x.dtype} {x.shape}")
    if "emnist" in images.name.lower():
        x = x.transpose(0, 2, 1)  # EMNIST stores images transposed
    y = None
    if labels is not None:
        raw = read_idx(labels)
        if raw.ndim != 1:
            raise DataError(f"{labels}: expected labels of shape (N,), got {raw.shape}")
        if len(raw) != len(x):
            raise DataError(f"{labels}: {len(raw)} labels for {len(x)} images in {images.name}")
        y = labels_tensor(raw, str(labels), len(x), n_classes)
    x = torch.from_numpy(np.ascontiguousarray(x))  # (N, H, W); read_idx's buffer is writable: no copy
    return Dataset(x=x.unsqueeze(1), y=y, max_value=255.0, n_classes=None if y is None else n_classes,
                   name=str(images))


def _split_files(folder: Path, prefix: str, split: str) -> tuple[Path | None, Path | None]:
    names = ("train",) if split == "train" else ("t10k", "test")

    def patterns(kind: str, idx: str) -> tuple[str, ...]:
        exact = tuple(f"{prefix}*{n}-{kind}*{idx}-ubyte*" for n in names)
        return exact + tuple(f"{prefix}*{n}-{kind}*" for n in names)

    return find_file(folder, patterns("images", "idx3")), find_file(folder, patterns("labels", "idx1"))


def load_idx_folder(folder: str | Path, prefix: str = "", n_classes: int | None = None) -> SourceData:
    """A folder with train (and optionally t10k/test) image files, label files where present.

    Args:
        prefix: only files whose names start with it (one dataset of a folder holding several).
        n_classes: expected number of classes (labels are checked against it).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such data folder")
    train_images, train_labels = _split_files(folder, prefix, "train")
    if train_images is None:
        raise DataError(f"{folder}: no '{prefix}*train-images*' IDX file found")
    train = load_idx_pair(train_images, train_labels, n_classes)
    test_images, test_labels = _split_files(folder, prefix, "test")
    test = load_idx_pair(test_images, test_labels, n_classes) if test_images is not None else None
    if test is not None and test.y is not None and train.y is not None:
        train.n_classes = test.n_classes = max(train.n_classes, test.n_classes)
    return SourceData(train=train, test=test)


def _labels_beside(images: Path) -> Path | None:
    """``x-images-idx3-ubyte[.gz]`` -> ``x-labels-idx1-ubyte[.gz]`` when that file exists."""
    name = images.name.replace("images", "labels").replace("idx3", "idx1")
    candidates = [images.with_name(name), images.with_name(name.removesuffix(".gz")), images.with_name(name + ".gz")]
    return next((p for p in candidates if p != images and p.is_file()), None)


def load_idx_path(arg: str | None, n_classes: int | None, source: str) -> SourceData:
    """An IDX folder, one images file, or ``FOLDER/PREFIX``."""
    if not arg:
        raise DataError(f"the {source} source needs a path, e.g. {source}:/data/mnist")
    path = Path(arg).expanduser()
    if path.is_file():
        return SourceData(train=load_idx_pair(path, _labels_beside(path), n_classes))
    if path.is_dir():
        return load_idx_folder(path, "", n_classes)
    if path.parent.is_dir() and any(path.parent.glob(f"{path.name}*")):
        return load_idx_folder(path.parent, path.name, n_classes)
    raise DataError(f"{path}: no such data folder or file")


@SOURCES.register("mnist")
def mnist_source(arg: str | None, cfg: DataConfig) -> SourceData:
    """``mnist:PATH``: MNIST, Fashion-MNIST or KMNIST (10 classes); use ``idx:`` for EMNIST."""
    return load_idx_path(arg, MNIST_CLASSES, "mnist")


@SOURCES.register("idx")
def idx_source(arg: str | None, cfg: DataConfig) -> SourceData:
    """``idx:PATH``: any IDX images (EMNIST included), labels of any non-negative range."""
    return load_idx_path(arg, None, "idx")
