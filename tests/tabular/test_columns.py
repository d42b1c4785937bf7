"""Column kinds, the table codec (encode / decode / JSON) and its errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaekit.errors import CheckpointError, DataError
from vaekit.tabular.codec import TableCodec
from vaekit.tabular.columns import MAX_INTEGER_CATEGORIES, Table, infer_kind, missing_mask


def _table(**cols) -> Table:
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in cols.items()})
    frame.index = range(2, 2 + len(frame))  # file line numbers
    return Table(frame, "t.csv", "line")


def test_kinds_are_detected_from_the_cells():
    n = 60
    t = _table(num=[f"{i * 0.37:.2f}" for i in range(n)],
               text=["red", "green", "blue"] * (n // 3),
               rating=[str(1 + i % 5) for i in range(n)],
               yesno=["yes", "no"] * (n // 2),
               zero_one=["0", "1"] * (n // 2),
               many_ints=[str(i) for i in range(n)])
    kinds = {name: infer_kind(t, name) for name in t.frame.columns}
    assert kinds == {"num": "numeric", "text": "categorical", "rating": "categorical", "yesno": "binary",
                     "zero_one": "binary", "many_ints": "numeric"}
    # whole numbers count as categories only when few and repeated (3 per value on average)
    sparse = _table(r=[str(i % (MAX_INTEGER_CATEGORIES - 1)) for i in range(12)])
    assert infer_kind(sparse, "r") == "numeric"


def test_missing_tokens_and_dataframe_gaps():
    s = pd.Series(["1", "", "NA", "n/a", "NaN", "null", "?", " 2 ", None], dtype=object)
    assert missing_mask(s).tolist() == [False, True, True, True, True, True, True, False, True]
    assert missing_mask(pd.Series([1.0, np.nan])).tolist() == [False, True]


def test_overrides_and_drop():
    t = _table(a=["1", "2", "3", "4"] * 5, b=["x", "y", "z", "w"] * 5, c=["u", "v", "w", "q"] * 5)
    codec = TableCodec.fit(t, column_types={"a": "categorical", "b": "drop"})
    assert [(c.name, c.kind) for c in codec.columns] == [("a", "categorical"), ("c", "categorical")]
    assert codec.columns[0].categories == [1, 2, 3, 4]
    with pytest.raises(DataError, match="names no column 'nope'"):
        TableCodec.fit(t, column_types={"nope": "numeric"})
    with pytest.raises(DataError, match="set binary but has 4 distinct values"):
        TableCodec.fit(t, column_types={"b": "binary"})


def test_encode_layout_standardization_and_round_trip():
    t = _table(h=["1.5", "2.5", "3.5", "4.5"], c=["b", "a", "b", "c"], s=["no", "yes", "no", "no"])
    codec = TableCodec.fit(t)
    x = codec.encode(t)
    assert x.shape == (4, 5) and codec.width == 5  # h | c: a, b, c | s
    np.testing.assert_allclose(x[:, 0], (np.array([1.5, 2.5, 3.5, 4.5]) - 3.0) / np.std([1.5, 2.5, 3.5, 4.5]), rtol=1e-6)
    assert x[:, 1:4].tolist() == [[0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert x[:, 4].tolist() == [0, 1, 0, 0]
    back = codec.decode(x)
    assert back["h"].tolist() == [1.5, 2.5, 3.5, 4.5] and back["c"].tolist() == ["b", "a", "b", "c"]
    assert back["s"].tolist() == ["no", "yes", "no", "no"]


def test_statistics_come_from_the_training_rows_and_categories_from_all():
    t = _table(h=["0", "2", "100", "7.5"], c=["a", "a", "zz", "b"])
    codec = TableCodec.fit(t, rows=np.array([0, 1]))
    h, c = codec.columns
    assert (h.mean, h.std, h.low, h.high) == (1.0, 1.0, 0.0, 2.0)
    assert c.categories == ["a", "b", "zz"]  # "zz" and "b" only occur outside the training rows


def test_missing_cells_error_by_default_and_masked_on_request():
    t = _table(h=["1.0", "2.0", "", "4.0"], c=["a", "?", "b", "c"])
    with pytest.raises(DataError, match=r"t.csv: line 4, column 'h': a missing value \(set data.missing: mask"):
        TableCodec.fit(t).encode(t)
    codec = TableCodec.fit(t, missing="mask")
    x = codec.encode(t)
    h, c = codec.columns
    assert (h.missing, c.missing) == (4, 5) and codec.width == 6
    assert x[:, 4].tolist() == [0, 0, 1, 0] and x[:, 5].tolist() == [0, 1, 0, 0]
    assert x[2, 0] == 0 and x[1, 1:4].tolist() == [0, 0, 0]  # zero-filled cells
    assert codec.observed(x).tolist() == [[True, True], [True, False], [False, True], [True, True]]
    back = codec.decode(x, keep_missing=True)
    assert np.isnan(back["h"][2]) and back["c"][1] is None and back["c"][0] == "a"


def test_bad_cells_are_named():
    many = [f"{i}.5" for i in range(30)]
    with pytest.raises(DataError, match=r"line 9, column 'v': non-numeric value 'oops' in a numeric column"):
        TableCodec.fit(_table(v=many[:7] + ["oops"] + many[8:]))
    ids = _table(id=[f"user{i}" for i in range(80)])
    with pytest.raises(DataError, match="80 distinct text values: an identifier"):
        TableCodec.fit(ids)
    codec = TableCodec.fit(_table(c=["a", "b", "c"] * 3))
    with pytest.raises(DataError, match=r"line 3, column 'c': value 'd' was not seen"):
        codec.encode(_table(c=["a", "d"]))
    codec = TableCodec.fit(_table(h=["1", "2.5", "3", "4"] * 3))
    with pytest.raises(DataError, match="line 2, column 'h': NaN or inf"):
        codec.encode(_table(h=["inf"]))


def test_types_survive_decoding():
    t = _table(age=[str(20 + i) for i in range(30)], rating=[str(1 + i % 3) for i in range(30)],
               price=[f"{i * 1.25:.2f}" for i in range(30)])
    codec = TableCodec.fit(t)
    back = codec.decode(codec.encode(t))
    assert back["age"].dtype == np.int64 and back["rating"].dtype == np.int64 and back["price"].dtype == np.float64
    assert back["age"].tolist() == list(range(20, 50)) and back["price"].tolist() == [i * 1.25 for i in range(30)]


def test_mode_specific_normalization_finds_both_modes():
    rng = np.random.default_rng(0)
    v = np.r_[rng.normal(-5, 0.3, 300), rng.normal(5, 0.6, 300)]
    t = _table(v=[f"{a:.4f}" for a in v])
    codec = TableCodec.fit(t, modes=5, seed=0)
    col = codec.columns[0]
    assert col.width == 3 and [round(m[1]) for m in col.modes] == [-5, 5]
    x = codec.encode(t)
    assert x[:, 1:].sum(1).tolist() == [1.0] * 600 and (x[:300, 1] == 1).all() and (x[300:, 2] == 1).all()
    assert np.abs(x[:, 0]).max() < 5  # within-mode values on each mode's own scale
    np.testing.assert_allclose(codec.decode(x)["v"].to_numpy(), np.round(v, 4), atol=1e-4)


def test_json_round_trip_and_tampering():
    t = _table(h=["1", "2.5", "3"] * 4, c=["a", "b", "c"] * 4, s=["x", "y", "y"] * 4)
    codec = TableCodec.fit(t, missing="mask")
    codec.label, codec.classes, codec.class_counts = "y", ["p", "q"], [7, 5]
    again = TableCodec.from_json(codec.to_json())
    assert again == codec
    bad = codec.to_json()
    bad["columns"][0]["kind"] = "image"
    with pytest.raises(CheckpointError, match="bad column record"):
        TableCodec.from_json(bad)
    with pytest.raises(CheckpointError, match="not a vaekit column record"):
        TableCodec.from_json({"columns": []})
