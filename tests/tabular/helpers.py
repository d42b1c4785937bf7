"""Tables for the tests: fitted columns of any width, and small CSV files with known structure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaekit.tabular.codec import TableCodec
from vaekit.tabular.columns import Column

#: (kind, value positions, extra fields) cycled through by :func:`codec_for_width`.
_CYCLE = (("numeric", 1, {"mean": 1.0, "std": 2.0}), ("binary", 1, {"categories": ["no", "yes"]}),
          ("categorical", 3, {"categories": ["a", "b", "c"]}),
          ("numeric", 3, {"modes": [[0.5, -2.0, 1.0], [0.5, 3.0, 0.5]]}))


def codec_for_width(width: int) -> TableCodec:
    """Fitted columns of every kind (numeric, binary, categorical, mode-normalized numeric; every
    other one with a missing indicator) that encode exactly ``width`` values per row."""
    columns, start, n_indicators = [], 0, 0
    while True:
        kind, w, extra = _CYCLE[len(columns) % len(_CYCLE)]
        indicator = len(columns) % 2 == 0
        if start + w + n_indicators + indicator > width:
            break
        columns.append(Column(f"c{len(columns)}", kind, start, w, **extra))
        columns[-1].missing = -1 if indicator else None
        start, n_indicators = start + w, n_indicators + indicator
    while start + n_indicators < width:  # fill with plain numeric columns
        columns.append(Column(f"c{len(columns)}", "numeric", start, 1))
        start += 1
    position = start
    for col in columns:
        if col.missing is not None:
            col.missing, position = position, position + 1
    codec = TableCodec(columns=columns, missing="mask")
    assert codec.width == width
    return codec


def mixed_table(n: int = 300, missing: float = 0.0, seed: int = 0) -> tuple[str, dict]:
    """CSV text of a table driven by two latent factors, and its true values.

    Columns: ``height``, ``weight`` (numbers with one decimal), ``colour`` (text: red/green/blue),
    ``rating`` (whole numbers 1..5), ``smoker`` (yes/no) and ``label`` (high/low, the auto-detected
    label). A fraction ``missing`` of the feature cells is left empty.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    cols = {
        "height": np.round(170 + 10 * z[:, 1] + 2 * rng.normal(size=n), 1),
        "weight": np.round(70 + 8 * z[:, 1] + 5 * z[:, 0] + 2 * rng.normal(size=n), 1),
        "colour": np.array(["red", "green", "blue"])[np.argmax(3 * z @ [[1, 0, -1], [0, 1, 0]] + rng.gumbel(size=(n, 3)), 1)],
        "rating": np.clip(np.round(3 + 1.2 * z[:, 0] + 0.4 * rng.normal(size=n)), 1, 5).astype(int),
        "smoker": np.where(z[:, 0] + 0.5 * rng.normal(size=n) > 0, "yes", "no"),
        "label": np.where(z[:, 0] > 0, "high", "low"),
    }
    lines = [",".join(cols)]
    for i in range(n):
        cells = [str(v[i]) for v in cols.values()]
        for j in range(5):
            if rng.random() < missing:
                cells[j] = ""
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n", cols


def write_mixed(path: Path, **kwargs) -> Path:
    text, _ = mixed_table(**kwargs)
    path.write_text(text)
    return path
