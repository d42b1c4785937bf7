"""Helpers shared by the file readers: reading (gunzipping) bytes, finding split files, labels.

Every problem with a user's file is a :class:`~vaekit.errors.DataError` whose one-line message
starts with the file's path.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from ...limits import MAX_DECOMPRESSED_BYTES, check_labels_range
from ..dataset import UNLABELLED

_CHUNK = 1 << 20


def read_bytes(path: Path, limit: int = MAX_DECOMPRESSED_BYTES) -> bytearray:
    """File contents, transparently gunzipped for ``.gz``; corrupt/truncated files raise DataError.

    A compressed file is decompressed as a stream that stops after ``limit`` bytes: more is a
    DataError (a decompression bomb never reaches memory). Returns a writable buffer.
    """
    try:
        with open_data(path) as fh:
            data = read_upto(fh, limit + 1, path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        unpacked = " when decompressed" if path.suffix == ".gz" else ""
        raise DataError(f"{path}: holds more than {limit:,} bytes{unpacked}; it is damaged, or too large to read")
    return data


def open_data(path: Path):
    """``path`` opened for reading bytes, through a gzip stream for ``.gz`` files."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_upto(fh, n: int, path: Path) -> bytearray:
    """The next ``n`` bytes of ``fh`` (fewer at its end), read in chunks; gzip damage is a DataError."""
    out = bytearray()
    try:
        while len(out) < n and (chunk := fh.read(min(_CHUNK, n - len(out)))):
            out += chunk
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip file ({exc})") from None
    return out


def existing_path(arg: str | None, source: str, example: str, kind: str | None = None) -> Path:
    """The path of a ``source:PATH`` spec; a missing argument or path is a DataError.

    Args:
        kind: "file" or "folder" when the source reads only that; None accepts both.
    """
    if not arg:
        raise DataError(f"the {source} source needs a path, e.g. {source}:{example}")
    path = Path(arg).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if kind is not None and path.is_dir() != (kind == "folder"):
        raise DataError(f"{path}: not a {kind}; the {source} source reads one {kind}")
    return path


def find_file(folder: Path, patterns: tuple[str, ...]) -> Path | None:
    """The one file in ``folder`` matching the first productive glob pattern, or None.

    A raw file and its ``.gz`` copy count as one (the raw one is read: no decompression). Several
    different matches are ambiguous: a DataError lists them.
    """
    for pattern in patterns:
        hits = sorted(p for p in folder.glob(pattern) if p.is_file())
        if not hits:
            continue
        names = {p.name.removesuffix(".gz") for p in hits}
        if len(names) > 1:
            listed = ", ".join(sorted(names))
            raise DataError(f"{folder}: several files match {pattern!r} ({listed}); "
                            "point the spec at one of them or at a file-name prefix (FOLDER/PREFIX)")
        raw = [p for p in hits if p.suffix != ".gz"]
        return (raw or hits)[0]
    return None


def labels_tensor(values: np.ndarray, where: str, n: int, n_classes: int | None = None) -> torch.Tensor:
    """Check integer class labels and return them as int64.

    Args:
        values: ``(N,)`` labels (any integer dtype, or floats holding whole numbers); -1
            (:data:`~vaekit.data.dataset.UNLABELLED`) marks an unlabelled example, allowed beside
            labelled ones (every label -1 is a DataError: leave the labels out for unlabelled data).
        where: file named in error messages.
        n: number of examples the labels belong to.
        n_classes: labels must lie in ``[0, n_classes)`` when given; otherwise in
            ``[0, max(n, 65,536))`` (:func:`vaekit.limits.class_limit`: memory per class stays
            proportional to the data).
    """
    if values.ndim != 1 or len(values) != n:
        raise DataError(f"{where}: {n} examples but labels of shape {values.shape}")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise DataError(f"{where}: labels contain NaN or inf")
    if values.dtype.kind not in "iub" and not (values.dtype.kind == "f" and (values == np.round(values)).all()):
        raise DataError(f"{where}: labels must be integers, got dtype {values.dtype}")
    if len(values):  # the range, on the stored values (before a cast could wrap them), limits the classes
        lo, hi = labelled_range(values, where)
        check_labels_range(lo, hi, len(values), where, n_classes)
    return torch.from_numpy(values.astype(np.int64))  # (N,)


def labelled_range(values: np.ndarray, where: str) -> tuple:
    """The smallest and largest label of ``values (N,)`` other than -1 (unlabelled); no labelled example,
    or another negative label, is a DataError naming it."""
    lo, hi = values.min().item(), values.max().item()
    if lo >= 0:
        return lo, hi
    if lo == hi == UNLABELLED:
        raise DataError(f"{where}: every label is -1 (unlabelled); give at least one label >= 0, "
                        "or leave the labels out for unlabelled data")
    lo = values[values != UNLABELLED].min().item()
    if lo < 0:
        raise DataError(f"{where}: label {lo:g} is negative; labels are 0..K-1, or -1 for an unlabelled example")
    return lo, hi


def encode_labels(values: list[str]) -> tuple[np.ndarray, list[str]]:
    """Map label strings to ``0..K-1`` in sorted order (numerically when all are numbers).

    Returns:
        ``(N,)`` int64 codes and the K class names (code ``k`` is ``classes[k]``).
    """
    try:
        keys = {v: float(v) for v in set(values)}
    except ValueError:
        keys = {v: v for v in set(values)}
    classes = sorted(keys, key=keys.__getitem__)
    code = {c: k for k, c in enumerate(classes)}
    return np.fromiter((code[v] for v in values), np.int64, len(values)), classes


def check_finite(x: np.ndarray, where: str) -> None:
    """NaN or inf in float data is a DataError naming the first bad example."""
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = [int(i) for i in np.argwhere(~np.isfinite(x))[0]]
        raise DataError(f"{where}: contains NaN or inf (first at example {bad[0]}, index {tuple(bad[1:])})")
