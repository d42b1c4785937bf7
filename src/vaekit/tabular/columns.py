"""Column kinds, their detection from a table's cells, and the JSON record of a fitted column.

Kinds (``data.column_types`` overrides the detection per column, and may also ``drop`` one):

- ``numeric``: numbers, standardized (or mode-specific normalized, see :mod:`.codec`).
- ``categorical``: text with more than two values, or whole numbers with at most
  :data:`MAX_INTEGER_CATEGORIES` distinct values, each present three times on average (e.g. ratings
  1..5); one-hot encoded.
- ``binary``: exactly two distinct values (0/1, yes/no, True/False), stored as 0/1.

Missing cells are empty, or one of :data:`MISSING_TOKENS` (any case), or NaN/None in a DataFrame.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import CheckpointError, DataError

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("numeric", "categorical", "binary")
#: Values of ``data.column_types``: a kind, or ``drop`` (the column is not modelled).
COLUMN_TYPES = (*KINDS, "drop")
#: Cell texts read as missing (compared case-insensitively, after stripping spaces).
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "?"})
#: Whole-number columns with at most this many distinct values are detected as categorical.
MAX_INTEGER_CATEGORIES = 10
#: A text column with more distinct values than this (or, past 50, more than half its cells) is
#: refused as a category: it is an identifier or free text.
MAX_CATEGORIES = 1000


@dataclass
class Table:
    """A table as read, before encoding.

    Attributes:
        frame: the feature columns (text cells as ``object``, or typed columns from a DataFrame);
            its index names the rows in messages.
        name: where the table came from (a file), for messages.
        row_word: what the index counts ("line" for files, "row" for DataFrames).
    """

    frame: "pd.DataFrame"
    name: str = "table"
    row_word: str = "row"

    def cell(self, position: int, column: str) -> str:
        """``"FILE: line 7, column 'age'"`` for the row at ``position``."""
        return f"{self.name}: {self.row_word} {self.frame.index[position]}, column {column!r}"


@dataclass
class Column:
    """One fitted column and its place in the encoded row.

    Attributes:
        name: the column name in the table.
        kind: one of :data:`KINDS`.
        start, width: its positions ``start .. start + width - 1`` in the encoded row (numeric: 1,
            or 1 + K with K modes; binary: 1; categorical: one per category).
        categories: categorical/binary values in code order (text, or numbers for number-valued
            columns); None for numeric columns.
        mean, std: standardization of a numeric column (0 and 1 when data.standardize is off).
        modes: ``[[weight, mean, std], ...]`` of mode-specific normalization, or None.
        integer: a numeric column of whole numbers written without decimals (decoded as integers).
        decimals: most digits after the decimal point in the column's text cells (decoded values are
            rounded to them), None when unknown (typed numbers, exponent notation).
        low, high: range of a numeric column in the fitted rows (decoded values are clipped to it).
        missing: position of the column's missing-cell indicator (``data.missing: mask``), or None.
    """

    name: str
    kind: str
    start: int
    width: int
    categories: list | None = None
    mean: float = 0.0
    std: float = 1.0
    modes: list | None = None
    integer: bool = False
    decimals: int | None = None
    low: float | None = None
    high: float | None = None
    missing: int | None = None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict, where: str) -> "Column":
        fields = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or not {"name", "kind", "start", "width"} <= set(data) or set(data) - fields:
            raise CheckpointError(f"{where}: not a column record: {str(data)[:80]}")
        try:
            col = cls(**data)
        except TypeError as exc:
            raise CheckpointError(f"{where}: bad column record ({exc})") from None
        if col.kind not in KINDS or not isinstance(col.start, int) or not isinstance(col.width, int) or col.width < 1:
            raise CheckpointError(f"{where}: bad column record for {col.name!r}")
        return col


# --- cells -------------------------------------------------------------------------------------------
def missing_mask(s: "pd.Series") -> np.ndarray:
    """``(N,)`` True where a cell is missing (NaN/None, or a text in :data:`MISSING_TOKENS`)."""
    miss = s.isna().to_numpy().copy()
    if s.dtype == object:
        text = s[~miss].astype(str).str.strip().str.lower()
        miss[~miss] = text.isin(MISSING_TOKENS).to_numpy()
    return miss


def numbers(s: "pd.Series") -> np.ndarray:
    """``(N,)`` float64 values; NaN where a cell is missing or not a number."""
    import pandas as pd

    if s.dtype == bool:
        return s.to_numpy(np.float64)
    return pd.to_numeric(s, errors="coerce").to_numpy(np.float64, na_value=np.nan)


def _number_key(v):
    """Sort key: numbers by value before text in text order."""
    try:
        return (0, float(v), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(v))


def _plain(v: float) -> int | float:
    return int(v) if float(v).is_integer() and abs(v) < 2 ** 53 else float(v)


def category_values(s: "pd.Series", miss: np.ndarray) -> list:
    """The distinct values of the present cells, sorted: numbers when every one is a number, bools
    for a bool column, else stripped text (numbers first, by value)."""
    present = s[~miss]
    if s.dtype == bool:
        return sorted(set(present.tolist()))
    values = numbers(present)
    if not np.isnan(values).any():
        return [_plain(v) for v in np.unique(values)]
    return sorted(set(present.astype(str).str.strip()), key=_number_key)


def decimals(s: "pd.Series") -> int | None:
    """Most digits after the point among text cells like ``12.50`` (None: not text, or exponents)."""
    if s.dtype != object:
        return None
    text = s.astype(str).str.strip()
    if text.str.contains("[eE]", regex=True).any():
        return None
    after = text.str.partition(".")[2].str.len()
    return int(after.max()) if len(after) else 0


# --- kinds ---------------------------------------------------------------------------------------------
def infer_kind(table: Table, name: str) -> str:
    """The kind of column ``name`` from its cells (see the module docstring)."""
    s = table.frame[name]
    miss = missing_mask(s)
    if miss.all():
        raise DataError(f"{table.name}: column {name!r} has no values (every cell is missing)")
    if s.dtype == bool:
        return "binary"
    values = numbers(s[~miss])
    is_number = ~np.isnan(values)
    distinct = np.unique(values[is_number & np.isfinite(values)])  # inf is refused later, naming the cell
    if is_number.all():
        if np.isinf(values).any():
            return "numeric"  # and the inf cell is refused by name when the column is fitted
        if len(distinct) == 2:
            return "binary"
        whole = bool(np.all(np.mod(distinct, 1) == 0))
        few = 2 < len(distinct) <= MAX_INTEGER_CATEGORIES and 3 * len(distinct) <= len(values)
        return "categorical" if whole and few else "numeric"
    _check_stray_text(table, name, miss, is_number, len(distinct))
    k = len(category_values(s, miss))
    if k == 2:
        return "binary"
    if k > MAX_CATEGORIES or (k > 50 and k > 0.5 * (~miss).sum()):
        raise DataError(f"{table.name}: column {name!r} has {k} distinct text values: an identifier or free "
                        f"text, not a category; drop it (data.column_types: {{{name}: drop}})")
    return "categorical"


def _check_stray_text(table: Table, name: str, miss: np.ndarray, is_number: np.ndarray, n_distinct: int) -> None:
    """A column of many different numbers with a few text cells holds typos: name the first one."""
    texts = set(table.frame[name][~miss][~is_number].astype(str))
    if is_number.mean() >= 0.9 and len(texts) <= 2 and n_distinct > MAX_INTEGER_CATEGORIES:
        first = int(np.flatnonzero(~miss)[np.flatnonzero(~is_number)[0]])
        value = str(table.frame[name].iloc[first])[:30]
        raise DataError(f"{table.cell(first, name)}: non-numeric value {value!r} in a numeric column "
                        f"(fix the cell, leave it empty with data.missing: mask, or set "
                        f"data.column_types: {{{name}: categorical}})")


def resolve_kinds(table: Table, column_types: dict | None) -> dict[str, str]:
    """``{column: kind or "drop"}`` for every column: the override when given, else detected."""
    column_types = dict(column_types or {})
    unknown = sorted(set(column_types) - set(table.frame.columns))
    if unknown:
        raise DataError(f"{table.name}: data.column_types names no column {unknown[0]!r} "
                        f"(columns: {', '.join(map(str, table.frame.columns[:20]))})")
    return {name: column_types.get(name) or infer_kind(table, name) for name in table.frame.columns}


def finite_or_none(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None
