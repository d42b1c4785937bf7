"""Writers of small data files for the data tests (IDX, amat, PNG folders)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image

_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
              np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(a: np.ndarray) -> bytes:
    """The IDX encoding of ``a`` (uint8/int8, or big-endian int16/int32/float32/float64)."""
    header = bytes([0, 0, _IDX_CODES[a.dtype], a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
    return header + a.tobytes()


def write(path: Path, data: bytes) -> Path:
    """Write ``data``, gzip-compressed when ``path`` ends in ``.gz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def mnist_like(n: int, seed: int, size: int = 28, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images ``(n, size, size)`` and labels ``(n,)`` covering every class."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    y = (np.arange(n) % n_classes).astype(np.uint8)
    return x, y


def write_idx_folder(folder: Path, prefix: str = "", gz: bool = True, n_train: int = 30, n_test: int = 20,
                     labels: bool = True) -> dict[str, np.ndarray]:
    """An MNIST-style folder (train + t10k images and labels); returns the arrays written."""
    ext = ".gz" if gz else ""
    x_train, y_train = mnist_like(n_train, 0)
    x_test, y_test = mnist_like(n_test, 1)
    write(folder / f"{prefix}train-images-idx3-ubyte{ext}", idx_bytes(x_train))
    write(folder / f"{prefix}t10k-images-idx3-ubyte{ext}", idx_bytes(x_test))
    if labels:
        write(folder / f"{prefix}train-labels-idx1-ubyte{ext}", idx_bytes(y_train))
        write(folder / f"{prefix}t10k-labels-idx1-ubyte{ext}", idx_bytes(y_test))
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def amat_bytes(x: np.ndarray) -> bytes:
    """``(N, D)`` 0/1 values in the published ``.amat`` layout ("v v ... v\\n")."""
    return "".join(" ".join(str(int(v)) for v in row) + "\n" for row in x).encode()


def write_image(path: Path, a: np.ndarray) -> Path:
    """Save ``(H, W)`` (grayscale) or ``(H, W, 3)`` (RGB) uint8 as the format of ``path``'s suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return path
