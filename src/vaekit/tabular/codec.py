"""A table <-> the float matrix a model sees: ``TableCodec.encode`` and ``decode``.

Encoded row (width W), column after column: a numeric column is one standardized value
(x - mean) / std, or with mode-specific normalization (TVAE, Xu et al. 2019, Sec. 4.2) the value
alpha = (x - mu_k) / sigma_k within its most probable mode k of a Bayesian Gaussian mixture fitted to
the column (scikit-learn, Dirichlet-process prior; modes under 0.5% weight dropped) followed by the
one-hot mode; a categorical column is one-hot; a binary column is 0/1. With ``data.missing: mask``
the row ends with one missing-cell indicator per column; a missing cell encodes as zeros (the
standardized mean, an empty one-hot block), so the encoder sees zero-imputation plus the mask, and
the likelihood leaves it out (MIWAE, Mattei & Frellsen 2019, Sec. 2).

Category vocabularies come from every row of the source (a category seen only in held-out rows still
has a code); standardization and mixture statistics come from the rows the model trains on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import CheckpointError, DataError
from .columns import (Column, Table, category_values, decimals, finite_or_none, missing_mask, numbers,
                      resolve_kinds)

log = logging.getLogger(__name__)
MISSING_MODES = ("error", "mask")
#: Modes whose mixture weight falls under this are dropped (TVAE's threshold).
MODE_MIN_WEIGHT = 0.005
#: Rows the mixture of one column is fitted on at most (a seeded subset beyond).
MODE_MAX_ROWS = 20000
FORMAT = "vaekit-columns/1"


@dataclass
class TableCodec:
    """The fitted columns of a table and how rows are encoded.

    Attributes:
        columns: the modelled columns in table order.
        missing: "error" (a missing cell is a DataError naming it) or "mask".
        label: the label column of the source table, or None.
        classes: label values by code.
        class_counts: training rows per label code (synthetic labels follow these proportions).
        order: every kept column of the source table (features and label) in file order.
    """

    columns: list[Column]
    missing: str = "error"
    label: str | None = None
    classes: list = field(default_factory=list)
    class_counts: list[int] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        """W: positions of an encoded row."""
        return max(c.start + c.width for c in self.columns) + sum(c.missing is not None for c in self.columns)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def positions(self) -> list[str]:
        """A name for each of the W positions of an encoded row: ``age``, ``age mode 2``, ``color=red``,
        ``age missing``."""
        names = [""] * self.width
        for c in self.columns:
            if c.kind == "categorical":
                names[c.start:c.start + c.width] = [f"{c.name}={v}" for v in c.categories]
            else:
                names[c.start:c.start + c.width] = [c.name] + [f"{c.name} mode {k}" for k in range(1, c.width)]
            if c.missing is not None:
                names[c.missing] = f"{c.name} missing"
        return names

    def to_units(self, x: torch.Tensor) -> torch.Tensor:
        """Encoded rows ``x (N, W)`` with each standardized numeric value back in the column's own units
        (the other positions, codes and indicators, as they are): for showing rows, not decoding them."""
        out = x.clone()
        for c in self.columns:
            if c.kind == "numeric":
                out[:, c.start] = x[:, c.start] * c.std + c.mean if c.modes is None else x[:, c.start]
        return out

    # --- fitting -----------------------------------------------------------------------------------
    @classmethod
    def fit(cls, table: Table, rows: np.ndarray | None = None, column_types: dict | None = None,
            missing: str = "error", standardize: bool = True, modes: int = 0, seed: int = 0) -> "TableCodec":
        """Detect kinds, collect categories from every row and statistics from ``rows``.

        Args:
            table: the whole source table (features only).
            rows: positions of the training rows (None: all).
            column_types: ``{column: kind or "drop"}`` overrides.
            missing: "error" or "mask" (one indicator per column).
            standardize: standardize numeric columns (else they are used as they are).
            modes: most mixture modes per numeric column for mode-specific normalization (0: off).
            seed: seed of the mixture fits.
        """
        kinds = {k: v for k, v in resolve_kinds(table, column_types).items() if v != "drop"}
        if not kinds:
            raise DataError(f"{table.name}: no columns left to model")
        fit_frame = table.frame if rows is None else table.frame.iloc[rows]
        columns, start = [], 0
        for name, kind in kinds.items():
            col = _fit_column(Table(fit_frame, table.name, table.row_word), table, name, kind, start,
                              standardize, modes, seed)
            columns.append(col)
            start += col.width
        if missing == "mask":
            for i, col in enumerate(columns):
                col.missing = start + i
        codec = cls(columns=columns, missing=missing, order=list(kinds))
        log.info("%s: %s", table.name, codec.describe())
        return codec

    def describe(self) -> str:
        """``"age numeric, colour categorical (3), smoker binary"``."""
        parts = [f"{c.name} {c.kind}" + (f" ({len(c.categories)})" if c.kind == "categorical" else "")
                 + (f" ({len(c.modes)} modes)" if c.modes else "") for c in self.columns]
        return ", ".join(parts)

    # --- encoding ----------------------------------------------------------------------------------
    def encode(self, table: Table) -> np.ndarray:
        """``(N, W)`` float32 rows; a missing cell is a DataError unless ``missing`` is "mask"."""
        frame = table.frame
        absent = [c.name for c in self.columns if c.name not in frame.columns]
        if absent:
            raise DataError(f"{table.name}: no column {absent[0]!r} (the model was trained on columns "
                            f"{', '.join(self.names[:20])})")
        out = np.zeros((len(frame), self.width), np.float32)
        for col in self.columns:
            miss = missing_mask(frame[col.name])
            if miss.any() and self.missing != "mask":
                raise DataError(f"{table.cell(int(np.flatnonzero(miss)[0]), col.name)}: a missing value "
                                "(set data.missing: mask to train with missing cells)")
            if col.kind == "numeric":
                _encode_numeric(out, table, col, miss)
            else:
                _encode_codes(out, table, col, miss)
            if col.missing is not None:
                out[:, col.missing] = miss
        return out

    def observed(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """``(N, C)`` bool: True where a cell of encoded rows ``x (N, W)`` is present."""
        x = _numpy(x)
        obs = np.ones((len(x), len(self.columns)), bool)
        for j, col in enumerate(self.columns):
            if col.missing is not None:
                obs[:, j] = x[:, col.missing] < 0.5
        return obs

    # --- decoding ----------------------------------------------------------------------------------
    def decode(self, x: torch.Tensor | np.ndarray, keep_missing: bool = False, numeric: dict | None = None):
        """Encoded rows ``(N, W)`` -> a DataFrame in the original units and categories.

        Args:
            x: encoded data, decoder means (probabilities: the most probable category, the expected
                value over modes) or decoder draws.
            keep_missing: cells whose indicator is set come out missing (NaN / None), as in the source.
            numeric: ``{column: (N,) values}`` to use for numeric columns instead of reading ``x``
                (before clipping to the fitted range and rounding).
        """
        import pandas as pd

        x = _numpy(x).astype(np.float64)
        obs = self.observed(x) if keep_missing else np.ones((len(x), len(self.columns)), bool)
        data = {}
        for j, col in enumerate(self.columns):
            if col.kind == "numeric":
                values = finish_numeric((numeric or {}).get(col.name, numeric_values(x, col)), col)
            else:
                values = _decode_codes(x, col)
            data[col.name] = _series(values, col, obs[:, j])
        return pd.DataFrame(data)

    # --- the JSON record -----------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"format": FORMAT, "missing": self.missing, "label": self.label, "classes": list(self.classes),
                "class_counts": list(self.class_counts), "order": list(self.order),
                "columns": [c.to_json() for c in self.columns]}

    @classmethod
    def from_json(cls, data: dict, where: str = "columns.json") -> "TableCodec":
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("columns"), list):
            raise CheckpointError(f"{where}: not a vaekit column record ({FORMAT})")
        if data.get("missing") not in MISSING_MODES or not data["columns"]:
            raise CheckpointError(f"{where}: bad column record")
        columns = [Column.from_json(c, where) for c in data["columns"]]
        return cls(columns=columns, missing=data["missing"], label=data.get("label"),
                   classes=list(data.get("classes") or []), class_counts=list(data.get("class_counts") or []),
                   order=list(data.get("order") or [c.name for c in columns]))


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


# --- per-kind fitting ------------------------------------------------------------------------------------
def _fit_column(fit: Table, whole: Table, name: str, kind: str, start: int, standardize: bool, modes: int,
                seed: int) -> Column:
    if kind != "numeric":
        s = whole.frame[name]
        categories = category_values(s, missing_mask(s))
        if kind == "binary" and len(categories) != 2:
            raise DataError(f"{whole.name}: column {name!r} is set binary but has {len(categories)} distinct values")
        return Column(name, kind, start, 1 if kind == "binary" else len(categories), categories=categories)
    values = numbers(fit.frame[name])
    values = values[~missing_mask(fit.frame[name])]
    _check_numbers(fit, name)
    places = decimals(fit.frame[name][~missing_mask(fit.frame[name])])
    col = Column(name, kind, start, 1, integer=bool(np.all(np.mod(values, 1) == 0)) and not places, decimals=places,
                 low=finite_or_none(values.min()) if len(values) else None,
                 high=finite_or_none(values.max()) if len(values) else None)
    if standardize and len(values):
        col.mean, col.std = float(values.mean()), _spread(values, numbers(whole.frame[name]))
    if modes > 1 and len(values) > modes:
        col.modes = _fit_modes(values, modes, seed)
        col.width = 1 + len(col.modes) if col.modes else 1
    return col


def _spread(values: np.ndarray, every: np.ndarray) -> float:
    """Standard deviation of the fitted rows; of every row when those are constant; else 1."""
    for v in (values, every[np.isfinite(every)]):
        std = float(v.std()) if len(v) > 1 else 0.0
        if std > 1e-8 * max(1.0, abs(float(v.mean()))):
            return std
    return 1.0


def _check_numbers(table: Table, name: str) -> None:
    """Every present cell of a numeric column is a finite number (else a DataError naming it)."""
    s = table.frame[name]
    values, miss = numbers(s), missing_mask(s)
    bad = np.flatnonzero(~miss & ~np.isfinite(values))
    if len(bad):
        cell = str(s.iloc[bad[0]])[:30]
        what = "NaN or inf" if cell.strip().lower().lstrip("+-") in ("inf", "infinity", "nan") else \
            f"non-numeric value {cell!r}"
        raise DataError(f"{table.cell(int(bad[0]), name)}: {what} in a numeric column")


def _fit_modes(values: np.ndarray, max_modes: int, seed: int) -> list | None:
    """``[[weight, mean, std], ...]`` of a Bayesian Gaussian mixture, or None for one mode."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    rng = np.random.default_rng(seed)
    sample = values if len(values) <= MODE_MAX_ROWS else rng.choice(values, MODE_MAX_ROWS, replace=False)
    bgm = BayesianGaussianMixture(n_components=max_modes, weight_concentration_prior_type="dirichlet_process",
                                  weight_concentration_prior=1e-3, max_iter=200, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bgm.fit(sample.reshape(-1, 1))
    keep = bgm.weights_ > MODE_MIN_WEIGHT
    if keep.sum() < 2:
        return None
    w = bgm.weights_[keep] / bgm.weights_[keep].sum()
    mu, sd = bgm.means_[keep, 0], np.sqrt(bgm.covariances_[keep].reshape(-1)).clip(1e-6)
    order = np.argsort(mu)
    return [[float(w[k]), float(mu[k]), float(sd[k])] for k in order]


# --- per-kind encoding -------------------------------------------------------------------------------------
def _encode_numeric(out: np.ndarray, table: Table, col: Column, miss: np.ndarray) -> None:
    _check_numbers(table, col.name)
    v = np.where(miss, np.nan, numbers(table.frame[col.name]))
    if col.modes is None:
        z = (v - col.mean) / col.std
    else:
        w, mu, sd = np.array(col.modes).T  # (K,) each
        k = np.argmax(np.log(w) - np.log(sd) - 0.5 * ((v[:, None] - mu) / sd) ** 2, axis=1)  # (N,)
        z = (v - mu[k]) / sd[k]
        out[np.flatnonzero(~miss), col.start + 1 + k[~miss]] = 1.0
    bad = np.flatnonzero(~miss & ~np.isfinite(z.astype(np.float32)))
    if len(bad):
        raise DataError(f"{table.cell(int(bad[0]), col.name)}: value too large")
    out[:, col.start] = np.where(miss, 0.0, z)


def _encode_codes(out: np.ndarray, table: Table, col: Column, miss: np.ndarray) -> None:
    code = _codes(table, col, miss)
    rows = np.flatnonzero(~miss)
    if col.kind == "binary":
        out[rows, col.start] = code[rows]
    else:
        out[rows, col.start + code[rows]] = 1.0


def _codes(table: Table, col: Column, miss: np.ndarray) -> np.ndarray:
    """``(N,)`` int codes of the present cells (-1 where missing); unseen values are a DataError."""
    import pandas as pd

    s = table.frame[col.name]
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in col.categories):
        keys, lookup = pd.Series(numbers(s)), {float(c): i for i, c in enumerate(col.categories)}
    elif s.dtype == bool:
        keys, lookup = s.reset_index(drop=True), {c: i for i, c in enumerate(col.categories)}
    else:
        keys, lookup = s.astype(str).str.strip().reset_index(drop=True), {str(c): i for i, c in enumerate(col.categories)}
    code = keys.map(lookup).to_numpy(np.float64, na_value=np.nan)
    unseen = np.flatnonzero(~miss & np.isnan(code))
    if len(unseen):
        i = int(unseen[0])
        raise DataError(f"{table.cell(i, col.name)}: value {str(s.iloc[i])[:30]!r} was not seen when the "
                        f"columns were fitted (known: {', '.join(map(str, col.categories[:10]))})")
    return np.where(miss, -1, np.nan_to_num(code, nan=-1)).astype(np.int64)


# --- per-kind decoding ---------------------------------------------------------------------------------------
def numeric_values(x: np.ndarray, col: Column) -> np.ndarray:
    """``(N,)`` values of numeric column ``col`` in encoded rows ``x (N, W)`` (mode probabilities give
    the expected value over modes), before clipping and rounding (:func:`finish_numeric`)."""
    if col.modes is None:
        v = x[:, col.start] * col.std + col.mean
    else:
        w, mu, sd = np.array(col.modes).T
        p = x[:, col.start + 1:col.start + col.width].clip(0)  # (N, K) one-hot or probabilities
        total = p.sum(1, keepdims=True)
        p = np.where(total > 0, p / np.where(total > 0, total, 1.0), w)
        v = (p * (x[:, col.start, None] * sd + mu)).sum(1)
    return v


def finish_numeric(v: np.ndarray, col: Column) -> np.ndarray:
    """Values clipped to the column's fitted range and rounded to its decimals."""
    if col.low is not None and col.high is not None:
        v = v.clip(col.low, col.high)
    return v if col.decimals is None else v.round(col.decimals)


def _decode_codes(x: np.ndarray, col: Column) -> list:
    if col.kind == "binary":
        code = (x[:, col.start] >= 0.5).astype(np.int64)
    else:
        code = np.argmax(x[:, col.start:col.start + col.width], axis=1)
    return [col.categories[k] for k in code]


def _series(values, col: Column, present: np.ndarray):
    """One DataFrame column: whole-number columns as int64 (nullable ``Int64`` with missing cells),
    number-valued categories as numbers, text as ``object``; missing cells NaN / None / NA."""
    import pandas as pd

    if col.kind == "numeric" and not col.integer:
        return pd.Series(np.where(present, values, np.nan))
    if col.kind == "numeric" or all(isinstance(c, int) and not isinstance(c, bool) for c in col.categories):
        s = pd.Series(np.round(np.asarray(values, np.float64))).astype("Int64")
        s[~present] = pd.NA
        return s.astype(np.int64) if present.all() else s
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in col.categories):
        return pd.Series(np.where(present, np.asarray(values, np.float64), np.nan))
    s = pd.Series(values, dtype=object)
    s[~present] = None
    return s.astype(bool) if present.all() and all(isinstance(c, bool) for c in col.categories) else s
