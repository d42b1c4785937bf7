"""Data already in memory: NumPy arrays (images, vectors) and pandas DataFrames (tables).

The same preparation as files (``vaekit.data.prepare``: splits, table encoding, preprocessing), for
``vaekit.fit`` and the scikit-learn estimator.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DataError
from ..tabular.columns import Table
from .dataset import Dataset, SourceData
from .sources.arrays import make_dataset
from .sources.common import encode_labels


def is_frame(x) -> bool:
    """A pandas DataFrame (checked without importing pandas)."""
    return type(x).__name__ == "DataFrame" and hasattr(x, "columns") and hasattr(x, "iloc")


def from_memory(x, y=None, name: str = "memory") -> SourceData:
    """A source of ``x``: a DataFrame becomes a table (columns detected, encoded by ``prepare``), an
    array ``(N, D)``, ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)`` data as in ``npz`` files.

    Args:
        y: ``(N,)`` labels (integers or class names), or None.
    """
    labels, classes = _labels(y)
    if is_frame(x):
        return _frame_source(x, labels, classes, name)
    x = np.asarray(x)
    return SourceData(train=make_dataset(x, labels, name), extra={"classes": classes})


def _labels(y) -> tuple[np.ndarray | None, list]:
    if y is None:
        return None, []
    y = np.asarray(y)
    if y.dtype.kind in "iub":
        return y.astype(np.int64), []
    codes, classes = encode_labels([str(v) for v in y.ravel()])
    return codes.reshape(y.shape), classes


def _frame_source(frame, y: np.ndarray | None, classes: list, name: str) -> SourceData:
    if len(frame) == 0 or frame.shape[1] == 0:
        raise DataError(f"{name}: an empty table ({frame.shape[0]} rows, {frame.shape[1]} columns)")
    if frame.columns.duplicated().any():
        raise DataError(f"{name}: column names appear twice: {list(frame.columns[frame.columns.duplicated()])[:3]}")
    if y is not None and len(y) != len(frame):
        raise DataError(f"{name}: {len(frame)} rows but {len(y)} labels")
    rows = torch.arange(len(frame)).unsqueeze(1)  # (N, 1) row numbers, split like examples
    ds = Dataset(x=rows, y=None if y is None else torch.from_numpy(y), name=name)
    extra = {"columns": list(frame.columns), "classes": classes, "label": None, "order": list(frame.columns)}
    return SourceData(train=ds, extra=extra, likelihood="tabular", table=Table(frame, name, "row"))
