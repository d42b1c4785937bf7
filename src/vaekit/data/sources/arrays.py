"""NumPy arrays: ``npy:FILE`` (one array) and ``npz:FILE`` (named arrays, optional labels and splits).

Layouts: images ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)`` (the channel axis is the one of
size 1, 3 or 4; channels-first when both could be), vectors ``(N, D)``. Integer arrays with values
in 0..255 (also floats holding whole numbers: 8-bit images saved as float) are kept as uint8
(``max_value`` 255, or 1 when every value is 0 or 1); other arrays become float32 used as they are
(``max_value`` 1). Files are read with ``allow_pickle=False``.

In an ``.npz`` the data is the array ``x`` (else ``images``, ``data``, ``X``, else the only array
that is not the labels); labels are ``data.labels_key``, else ``y`` or ``labels`` when present. A file
with ``x_train`` (Keras style) has splits: ``x_train``/``x_test``/``x_val`` (or ``x_valid``) with
labels ``y_train``... (``<labels_key>_train`` when labels_key is set).
"""

from __future__ import annotations

import logging
import math
import zipfile
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from .. import SOURCES, DataConfig
from ..dataset import Dataset, SourceData
from .common import check_finite, encode_labels, existing_path, labels_tensor

log = logging.getLogger(__name__)
DATA_KEYS = ("x", "images", "data", "X")
LABEL_KEYS = ("y", "labels")
SPLIT_KEYS = {"train": ("train",), "val": ("val", "valid"), "test": ("test",)}
_CHANNELS = (1, 3, 4)


def _declared_bytes(fh) -> tuple[int, int]:
    """(header bytes, data bytes) an ``.npy`` stream's header declares; raises ValueError when damaged."""
    version = np.lib.format.read_magic(fh)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(fh, max_header_size=10_000)
    return fh.tell(), math.prod(shape) * dtype.itemsize


def _check_sizes(path: Path) -> None:
    """Each array's header must declare exactly the bytes its file (or zip member) holds: checked before
    loading, so a few crafted bytes cannot make numpy allocate the gigabytes a header claims."""
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            header, data = _declared_bytes(fh)
        sizes = [(path.name, header, data, path.stat().st_size)]
    else:
        sizes = []
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                with zf.open(info) as fh:
                    sizes.append((info.filename, *_declared_bytes(fh), info.file_size))
    for name, header, data, size in sizes:
        if header + data != size:
            raise ValueError(f"{name} declares {header + data:,} bytes but holds {size:,}")


def _load(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npy`` (key ``x``) or ``.npz`` file."""
    try:
        _check_sizes(path)
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return {"x": loaded}
        with loaded as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # noqa: BLE001  numpy's parsers raise many types on damaged files
        # (ValueError, OSError, EOFError, BadZipFile, zlib.error, SyntaxError, TokenError, MemoryError, ...)
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise DataError(f"{path}: not a readable .npy/.npz file ({type(exc).__name__}: {reason})") from None
    bad = [k for k, v in arrays.items() if not isinstance(v, np.ndarray)]
    if bad:
        raise DataError(f"{path}: member {bad[0]!r} is not a .npy array")
    return arrays


def to_layout(x: np.ndarray, where: str) -> np.ndarray:
    """``(N, D)`` stays; ``(N, H, W)`` -> ``(N, 1, H, W)``; ``(N, H, W, C)`` -> ``(N, C, H, W)``."""
    if x.ndim == 2:
        return x
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[1] in _CHANNELS:
        return x
    if x.ndim == 4 and x.shape[3] in _CHANNELS:
        return x.transpose(0, 3, 1, 2)
    raise DataError(f"{where}: expected (N, D), (N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1, 3, 4; "
                    f"got shape {x.shape}")


def to_tensor(x: np.ndarray, where: str) -> tuple[torch.Tensor, float]:
    """Stored tensor and its ``max_value``: uint8 for 8-bit data (integers in 0..255, also when stored
    as floats), float32 otherwise."""
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: expected numeric data, got dtype {x.dtype}")
    check_finite(x, where)
    if x.size and x.min() >= 0 and x.max() <= 255 and (x.dtype.kind in "biu" or _whole(x)):
        if x.dtype.kind == "f":
            log.info("%s: float values are whole numbers in 0..%g: read as 8-bit data", where, x.max())
        return torch.from_numpy(np.array(x, np.uint8, order="C")), (1.0 if x.max() <= 1 else 255.0)
    return torch.from_numpy(np.array(x, np.float32, order="C")), 1.0


def _whole(x: np.ndarray, chunk: int = 1 << 22) -> bool:
    """Every value of a float array is a whole number (checked in chunks of the flat array)."""
    flat = x.reshape(-1)
    return all(np.array_equal(part, np.round(part)) for part in (flat[i:i + chunk] for i in range(0, len(flat), chunk)))


def make_dataset(x: np.ndarray, y: np.ndarray | None, where: str, labels_where: str = "") -> Dataset:
    """A Dataset from raw arrays (layout, dtype and labels checked); ``where`` names them in errors."""
    if x.ndim < 2 or 0 in x.shape:
        raise DataError(f"{where}: expected a non-empty array of examples, got shape {x.shape}")
    xt, max_value = to_tensor(to_layout(x, where), where)
    if y is not None and y.dtype.kind in "US":  # class names: mapped to 0..K-1 in sorted order
        y = encode_labels([str(v) for v in y.ravel()])[0].reshape(y.shape)
    yt = None if y is None else labels_tensor(y, labels_where or where, len(xt))
    return Dataset(x=xt, y=yt, max_value=max_value, name=where)


def _pick(arrays: dict[str, np.ndarray], keys: tuple[str, ...]) -> str | None:
    return next((k for k in keys if k in arrays), None)


def _label_key(arrays: dict, cfg: DataConfig, path: Path, suffix: str = "") -> str | None:
    if cfg.labels_key is None:
        return _pick(arrays, tuple(k + suffix for k in LABEL_KEYS))
    if cfg.labels_key + suffix not in arrays:
        raise DataError(f"{path}: no labels array {cfg.labels_key + suffix!r} (has: {', '.join(sorted(arrays))})")
    return cfg.labels_key + suffix


def _single(arrays: dict, cfg: DataConfig, path: Path) -> SourceData:
    y_key = _label_key(arrays, cfg, path)
    x_key = _pick(arrays, DATA_KEYS)
    others = [k for k in arrays if k != y_key]
    if x_key is None and len(others) != 1:
        raise DataError(f"{path}: cannot tell which array holds the data (has: {', '.join(sorted(arrays)) or 'none'}); "
                        f"name it 'x'")
    x_key = x_key or others[0]
    y = None if y_key is None else arrays[y_key]
    return SourceData(train=make_dataset(arrays[x_key], y, f"{path}[{x_key}]", f"{path}[{y_key}]"))


def _splits(arrays: dict, cfg: DataConfig, path: Path) -> SourceData:
    out = {}
    for split, names in SPLIT_KEYS.items():
        name = next((n for n in names if f"x_{n}" in arrays), None)
        if name is None:
            continue
        y_key = _label_key(arrays, cfg, path, f"_{name}")
        y = None if y_key is None else arrays[y_key]
        out[split] = make_dataset(arrays[f"x_{name}"], y, f"{path}[x_{name}]", f"{path}[{y_key}]")
    shapes = {ds.sample_shape for ds in out.values()}
    if len(shapes) > 1:
        raise DataError(f"{path}: splits have different example shapes {sorted(shapes)}")
    return SourceData(**out)


def load_arrays(path: Path, cfg: DataConfig) -> SourceData:
    """Read an ``.npy``/``.npz`` file into its splits (see the module docstring)."""
    arrays = _load(path)
    if not arrays:
        raise DataError(f"{path}: contains no arrays")
    return _splits(arrays, cfg, path) if "x_train" in arrays else _single(arrays, cfg, path)


@SOURCES.register("npz")
@SOURCES.register("npy")
def arrays_source(arg: str | None, cfg: DataConfig) -> SourceData:
    """``npz:FILE`` / ``npy:FILE``."""
    return load_arrays(existing_path(arg, "npz", "/data/arrays.npz", kind="file"), cfg)
