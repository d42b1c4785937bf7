"""CSV tabular data: ``csv:FILE`` (``.csv`` comma- or semicolon-separated, ``.tsv`` tab-separated).

Every column except ``data.label_column`` must be numeric (no empty cells, NaN or inf); the features
load as one float32 ``(N, D)`` tensor. A header row is detected (as :meth:`csv.Sniffer.has_header`
does: a first row with text where the second row has numbers); without one, ``data.label_column``
may be a 0-based column index such as ``"4"``. Labels are mapped to ``0..K-1`` in sorted order
(numerically when all are numbers); the class names are in ``SourceData.extra["classes"]``.

CSV data is standardized by default (``data.standardize`` unset): per-feature mean and standard
deviation of the training split, saved in the run directory (``preprocess.safetensors``) and
reused when the run is loaded for inference.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from .. import SOURCES, DataConfig
from ..dataset import Dataset, SourceData
from .common import encode_labels, existing_path, read_bytes


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_rows(data: bytes, name: str, delimiter: str | None = None) -> list[tuple[int, list[str]]]:
    """Non-blank rows of CSV bytes as ``(line number, cells)``; equal row lengths are checked."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if delimiter is None:
        first = text.split("\n", 1)[0]
        delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((reader.line_num, [c.strip() for c in cells]))
    except csv.Error as exc:
        raise DataError(f"{name}: line {reader.line_num}: {exc}") from None
    if not rows:
        raise DataError(f"{name}: no data rows")
    width = len(rows[0][1])
    for line, cells in rows:
        if len(cells) != width:
            raise DataError(f"{name}: line {line} has {len(cells)} fields, the first row has {width}")
    return rows


def split_header(rows: list[tuple[int, list[str]]], label_column: str | None = None
                 ) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Column names (from a detected header, else ``"0"``, ``"1"``, ...) and the data rows.

    The first row is a header when it has text above a number, or names ``label_column``.
    """
    first = rows[0][1]
    second = rows[1][1] if len(rows) > 1 else [""] * len(first)
    header = any(not _is_number(a) and (_is_number(b) or len(rows) == 1) for a, b in zip(first, second))
    header = header or (label_column in first and not _is_number(label_column))
    if header:
        return first, rows[1:]
    return [str(j) for j in range(len(first))], rows


def _label_index(columns: list[str], label_column: str | None, name: str) -> int | None:
    if label_column is None:
        return None
    if label_column in columns:
        return columns.index(label_column)
    raise DataError(f"{name}: no label column {label_column!r} (columns: {', '.join(columns[:20])})")


def _features(rows: list[tuple[int, list[str]]], columns: list[str], name: str) -> np.ndarray:
    """``(N, D)`` float32 features; the first non-numeric, NaN or inf cell is named in the error."""
    try:
        with np.errstate(over="ignore"):
            x = np.array([cells for _, cells in rows], dtype=np.float64).astype(np.float32)  # (N, D)
    except ValueError:
        for line, cells in rows:
            for column, cell in zip(columns, cells):
                if not _is_number(cell):
                    what = "an empty cell" if not cell else f"non-numeric value {cell[:30]!r}"
                    raise DataError(f"{name}: line {line}, column {column!r}: {what} (features must be numbers)")
        raise DataError(f"{name}: features are not all numbers") from None
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        i, j = bad[0]
        raise DataError(f"{name}: line {rows[i][0]}, column {columns[j]!r}: NaN or inf (or too large for float32)")
    return x


def parse_csv(data: bytes, name: str, label_column: str | None = None, delimiter: str | None = None
              ) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Decode CSV bytes.

    Returns:
        features ``(N, D)`` float32, labels ``(N,)`` int64 or None, and ``{"columns", "classes"}``.
    """
    columns, rows = split_header(read_rows(data, name, delimiter), label_column)
    if not rows:
        raise DataError(f"{name}: a header but no data rows")
    j = _label_index(columns, label_column, name)
    y, classes = None, []
    if j is not None:
        labels = [cells[j] for _, cells in rows]
        empty = next((line for (line, _), v in zip(rows, labels) if not v), None)
        if empty is not None:
            raise DataError(f"{name}: line {empty}: empty label in column {columns[j]!r}")
        y, classes = encode_labels(labels)
        rows = [(line, cells[:j] + cells[j + 1:]) for line, cells in rows]
        columns = columns[:j] + columns[j + 1:]
    if not columns:
        raise DataError(f"{name}: no feature columns besides the label column")
    return _features(rows, columns, name), y, {"columns": columns, "classes": classes}


def read_csv(path: Path, cfg: DataConfig) -> SourceData:
    """One CSV file as training data, standardized by default."""
    delimiter = "\t" if ".tsv" in (s.lower() for s in path.suffixes) else None
    x, y, extra = parse_csv(read_bytes(path), str(path), cfg.label_column, delimiter)
    ds = Dataset(x=torch.from_numpy(x), y=None if y is None else torch.from_numpy(y), max_value=1.0,
                 n_classes=len(extra["classes"]) or None, name=str(path))
    return SourceData(train=ds, extra=extra, standardize=True)


@SOURCES.register("csv")
def csv_source(arg: str | None, cfg: DataConfig) -> SourceData:
    """``csv:FILE`` (``.csv``, ``.tsv``, or either gzip-compressed)."""
    return read_csv(existing_path(arg, "csv", "/data/table.csv", kind="file"), cfg)
