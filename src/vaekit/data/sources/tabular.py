"""CSV tables: ``csv:FILE`` (``.csv`` comma- or semicolon-separated, ``.tsv`` tab-separated, or gzipped).

Columns may be numbers or text; each becomes numeric, categorical or binary (detected, overridable
with ``data.column_types``; see :mod:`vaekit.tabular.columns`) and is encoded for the model by
:mod:`vaekit.tabular.codec` after the splits are made. Empty cells (and NA, N/A, NaN, null, ?) are
errors naming the cell unless ``data.missing: mask``.

A header row is detected (as :meth:`csv.Sniffer.has_header` does: a first row with text where the
second row has numbers, or text cells that never recur in their columns); without one, columns are
named ``"0"``, ``"1"``, ... The label column is ``data.label_column``: a name (or a 0-based index
without a header), None for no labels, or "auto" (the default): a column named label, class, target
or y (any case) with at most 100 distinct values that are not fractional numbers, stated in the log.
Labels are mapped to ``0..K-1`` in sorted order (numerically when all are numbers); the class names
are in ``SourceData.extra["classes"]``. An empty (missing) label cell marks its row unlabelled (label
-1, for semi-supervised models), whatever ``data.missing`` says; a label column with no label at all
is an error.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import numpy as np
import torch

from ...config import is_number
from ...errors import DataError
from ...tabular.columns import MISSING_TOKENS, Table
from .. import SOURCES, DataConfig
from ..dataset import UNLABELLED, Dataset, SourceData
from .common import encode_labels, existing_path, read_bytes

log = logging.getLogger(__name__)
#: Column names (any case) that ``data.label_column: auto`` takes as the label, in this order.
LABEL_NAMES = ("label", "class", "target", "y")
#: Most distinct values of an automatically chosen label column.
MAX_AUTO_CLASSES = 100


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

    The first row is a header when it has text above a number, or names ``label_column``, or holds
    distinct text cells none of which recurs in its column.
    """
    first = rows[0][1]
    second = rows[1][1] if len(rows) > 1 else [""] * len(first)
    header = any(not is_number(a) and (is_number(b) or len(rows) == 1) for a, b in zip(first, second))
    header = header or (label_column in first and not is_number(label_column)) or _text_header(rows)
    if header:
        return first, rows[1:]
    return [str(j) for j in range(len(first))], rows


def _text_header(rows: list[tuple[int, list[str]]], look: int = 1000) -> bool:
    """All-text tables: a first row of distinct names that never appear again in their columns."""
    first = rows[0][1]
    if len(rows) < 2 or len(set(first)) < len(first) or any(not c or is_number(c) for c in first):
        return False
    return not any(cells[j] == first[j] for _, cells in rows[1:look] for j in range(len(first)))


def _label_index(columns: list[str], label_column: str | None, name: str) -> int | None:
    if label_column is None:
        return None
    if label_column in columns:
        return columns.index(label_column)
    raise DataError(f"{name}: no label column {label_column!r} (columns: {', '.join(columns[:20])})")


def _auto_label(columns: list[str], rows: list[tuple[int, list[str]]], name: str) -> str | None:
    """The column taken as the label by ``data.label_column: auto`` (see the module docstring)."""
    for want in LABEL_NAMES:
        for j, column in enumerate(columns):
            if column.strip().lower() != want:
                continue
            values = {v for _, cells in rows if (v := cells[j]).lower() not in MISSING_TOKENS}  # labelled rows
            fractional = all(is_number(v) for v in values) and any(float(v) % 1 for v in values if v)
            if len(values) <= MAX_AUTO_CLASSES and not fractional:
                log.info("%s: column %r is the label (data.label_column: null keeps it a feature)", name, column)
                return column
            log.info("%s: column %r has %d distinct values%s: kept as a feature (data.label_column names "
                     "a label column)", name, column, len(values), ", fractional" if fractional else "")
    return None


def _labels(rows: list[tuple[int, list[str]]], j: int, column: str, name: str) -> tuple[np.ndarray, list[str]]:
    """Labels ``(N,)`` int64: the classes ``0..K-1`` of the labelled rows, -1 (unlabelled) where the label
    cell is missing (empty, NA, ...: :data:`MISSING_TOKENS`), and the K class names (labelled rows only)."""
    labels = [cells[j] for _, cells in rows]
    known = np.array([v.lower() not in MISSING_TOKENS for v in labels], bool)  # (N,)
    if not known.any():
        raise DataError(f"{name}: every cell of the label column {column!r} is empty; label some rows, "
                        "or set data.label_column: null for a table without labels")
    if not known.all():
        log.info("%s: %d rows have an empty label in column %r: read as unlabelled (-1)", name,
                 int((~known).sum()), column)
    codes, classes = encode_labels([v for v, k in zip(labels, known) if k])
    y = np.full(len(labels), UNLABELLED, np.int64)
    y[known] = codes
    return y, classes


def parse_csv(data: bytes, name: str, label_column: str | None = "auto", delimiter: str | None = None
              ) -> tuple[Table, np.ndarray | None, dict]:
    """Decode CSV bytes.

    Returns:
        the feature cells as a :class:`~vaekit.tabular.columns.Table` (text, indexed by line
        number), labels ``(N,)`` int64 or None, and ``{"columns", "classes", "label", "order"}``.
    """
    import pandas as pd

    explicit = label_column if label_column != "auto" else None
    columns, rows = split_header(read_rows(data, name, delimiter), explicit)
    if not rows:
        raise DataError(f"{name}: a header but no data rows")
    twice = next((c for c in columns if columns.count(c) > 1), None)
    if twice is not None:
        raise DataError(f"{name}: column name {twice!r} appears twice")
    label = _auto_label(columns, rows, name) if label_column == "auto" else label_column
    j = _label_index(columns, label, name)
    y, classes = _labels(rows, j, columns[j], name) if j is not None else (None, [])
    frame = pd.DataFrame([cells for _, cells in rows], columns=columns, index=[line for line, _ in rows], dtype=object)
    features = [c for c in columns if c != label]
    if not features:
        raise DataError(f"{name}: no feature columns besides the label column")
    extra = {"columns": features, "classes": classes, "label": None if j is None else columns[j], "order": columns}
    return Table(frame[features], name, "line"), y, extra


def read_csv(path: Path, cfg: DataConfig) -> SourceData:
    """One CSV file as a table source: row numbers in ``x``, the cells in ``table``."""
    delimiter = "\t" if ".tsv" in (s.lower() for s in path.suffixes) else None
    table, y, extra = parse_csv(read_bytes(path), str(path), cfg.label_column, delimiter)
    rows = torch.arange(len(table.frame)).unsqueeze(1)  # (N, 1) row numbers, split like examples
    ds = Dataset(x=rows, y=None if y is None else torch.from_numpy(y), max_value=1.0,
                 n_classes=len(extra["classes"]) or None, name=str(path))
    return SourceData(train=ds, extra=extra, likelihood="tabular", table=table)


@SOURCES.register("csv")
def csv_source(arg: str | None, cfg: DataConfig) -> SourceData:
    """``csv:FILE`` (``.csv``, ``.tsv``, or either gzip-compressed)."""
    return read_csv(existing_path(arg, "csv", "/data/table.csv", kind="file"), cfg)
