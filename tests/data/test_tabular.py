"""``csv:FILE``: header and label detection, typed columns, test splits, missing cells, bad files."""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pytest
import torch

from tests.conftest import tiny_config
from tests.data.conftest import load_error
from vaekit.data import DataConfig, DataError, load_data, load_source

IRIS_LIKE = "sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n4.9,1.5,setosa\n"
ALL = {"val_fraction": 0.0, "test_fraction": 0.0}


def _csv(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    return path


def _load(path, **cfg):
    return load_data(DataConfig(spec=f"csv:{path}", **{**ALL, **cfg}))


def prepare_error(path, **cfg) -> str:
    """The one-line DataError of loading and encoding ``path``."""
    with pytest.raises(DataError) as info:
        _load(path, **cfg)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_header_features_and_label_names(tmp_path):
    path = _csv(tmp_path, IRIS_LIKE)
    src = load_source(DataConfig(spec=f"csv:{path}", label_column="species"))
    assert src.train.y.tolist() == [0, 1, 2, 0] and src.train.n_classes == 3 and src.likelihood == "tabular"
    assert src.extra["columns"] == ["sepal", "petal"] and src.extra["classes"] == ["setosa", "versicolor", "virginica"]
    splits, _ = _load(path, label_column="species")
    assert splits.train.x.dtype == torch.float32 and splits.train.x.shape == (4, 2)
    back = splits.columns.decode(splits.train.x)
    assert back["sepal"].tolist() == [5.1, 7.0, 6.3, 4.9] and back["petal"].tolist() == [1.4, 4.7, 6.0, 1.5]


@pytest.mark.parametrize("name, text", [
    ("a.csv", "1.5,2,10\n2.5,3,9\n0,1,10\n"),
    ("a.tsv", "1.5\t2\t10\n2.5\t3\t9\n0\t1\t10\n"),
    ("a.csv.gz", "1.5;2;10\n2.5;3;9\n0;1;10\n"),
])
def test_no_header_separators_and_numeric_labels_in_numeric_order(tmp_path, name, text):
    splits, _ = _load(_csv(tmp_path, text, name), label_column="2")
    assert splits.columns.decode(splits.train.x).to_numpy().tolist() == [[1.5, 2], [2.5, 3], [0, 1]]
    assert splits.train.y.tolist() == [1, 0, 1] and splits.columns.classes == ["9", "10"]


def test_text_columns_become_categories_and_all_text_headers_are_found(tmp_path):
    path = _csv(tmp_path, "colour,size,label\nred,small,a\nblue,large,b\nred,large,a\ngreen,small,b\n")
    splits, _ = _load(path)
    kinds = {c.name: (c.kind, c.categories) for c in splits.columns.columns}
    assert kinds == {"colour": ("categorical", ["blue", "green", "red"]), "size": ("binary", ["large", "small"])}
    assert splits.train.x.tolist()[0] == [0, 0, 1, 1] and splits.train.y.tolist() == [0, 1, 0, 1]


def test_csv_numbers_are_standardized_by_default_and_can_opt_out(tmp_path):
    path = _csv(tmp_path, "a,b\n" + "".join(f"{i},{i * i}\n" for i in range(20)))
    splits, pre = _load(path, val_fraction=0.2)
    a = splits.columns.columns[0]
    rows = splits.columns.decode(splits.train.x)["a"].to_numpy()
    assert a.mean == pytest.approx(rows.mean()) and a.std == pytest.approx(rows.std())  # the training rows only
    assert pre.mean is None and torch.allclose(splits.train.x.mean(0), torch.zeros(2), atol=1e-5)
    raw, _ = _load(path, standardize=False)
    assert raw.train.x[:, 0].tolist() == list(range(20))
    _, images = load_data(DataConfig(spec="digits"))
    assert images.mean is None


def test_run_saves_and_reuses_the_columns(tmp_path):
    import vaekit

    path = _csv(tmp_path, "a,b,c\n" + "".join(f"{i},{'xyz'[i % 3]},{-i / 3:.3f}\n" for i in range(60)))
    cfg = tiny_config(tmp_path / "runs", epochs=1)
    cfg["data"] = {"spec": f"csv:{path}"}
    run = vaekit.train(cfg)
    assert (run.path / "columns.json").is_file() and not (run.path / "preprocess.safetensors").exists()
    assert run.config.model.likelihood == "tabular"  # auto: the table's own likelihood
    loaded = vaekit.open_run(run.path)
    splits, _ = load_data(DataConfig(spec=f"csv:{path}"))
    assert loaded.columns == splits.columns and loaded.model.columns is not None
    assert splits.test is not None and len(splits.test) == 9  # 15% of the rows held out by default
    other = _csv(tmp_path, "a,b,c\n1000,z,0\n", "other.csv")  # new rows are read with the run's statistics
    new, _ = load_data(DataConfig(spec=f"csv:{other}", **ALL), loaded.columns)
    a, _, c = loaded.columns.columns
    assert new.train.x[0].tolist() == pytest.approx([(1000 - a.mean) / a.std, 0, 0, 1, (0 - c.mean) / c.std])


def test_labels_are_detected_by_name_unless_told_otherwise(tmp_path, caplog):
    path = _csv(tmp_path, "x,Class\n" + "".join(f"{i * 0.5},{'ab'[i % 2]}\n" for i in range(10)))
    with caplog.at_level(logging.INFO, logger="vaekit.data.sources.tabular"):
        src = load_source(DataConfig(spec=f"csv:{path}"))
    assert src.train.y is not None and src.extra["label"] == "Class" and "column 'Class' is the label" in caplog.text
    kept = load_source(DataConfig(spec=f"csv:{path}", label_column=None))
    assert kept.train.y is None and kept.extra["columns"] == ["x", "Class"]
    fractional = _csv(tmp_path, "x,target\n" + "".join(f"{i},{i / 7:.3f}\n" for i in range(10)), "f.csv")
    assert load_source(DataConfig(spec=f"csv:{fractional}")).train.y is None  # a regression target stays a feature


def test_test_split_is_seeded_and_stratified(tmp_path):
    rows = "".join(f"{i},{'a' if i < 80 else 'b'}\n" for i in range(100))
    path = _csv(tmp_path, "v,label\n" + rows)
    a, _ = load_data(DataConfig(spec=f"csv:{path}", test_fraction=0.2, val_fraction=0.0, seed=3))
    b, _ = load_data(DataConfig(spec=f"csv:{path}", test_fraction=0.2, val_fraction=0.0, seed=3))
    assert torch.equal(a.test.x, b.test.x)
    assert torch.bincount(a.test.y).tolist() == [16, 4] and len(a.train) == 80
    c, _ = load_data(DataConfig(spec=f"csv:{path}", test_fraction=0.2, val_fraction=0.0, seed=4))
    assert not torch.equal(a.test.x, c.test.x)


def test_empty_label_cells_mark_rows_unlabelled_and_name_no_class(tmp_path):
    path = _csv(tmp_path, "v,species\n1,dog\n2,\n3,cat\n4,NA\n5,dog\n6,?\n7,emu\n")
    src = load_source(DataConfig(spec=f"csv:{path}", label_column="species"))
    assert src.train.y.tolist() == [1, -1, 0, -1, 1, -1, 2]
    assert src.extra["classes"] == ["cat", "dog", "emu"] and src.train.n_classes == 3
    splits, _ = _load(path, label_column="species")  # data.missing: error concerns features, not labels
    assert splits.columns.class_counts == [1, 2, 1]  # labelled rows only
    numeric = _csv(tmp_path, "x,target\n" + "".join(f"{i},{'nan' if i % 4 == 0 else i % 3}\n" for i in range(12)),
                   "n.csv")
    src = load_source(DataConfig(spec=f"csv:{numeric}"))  # missing cells do not make the column fractional
    assert src.extra["label"] == "target" and src.train.y.tolist() == [-1, 1, 2, 0, -1, 2, 0, 1, -1, 0, 1, 2]


def test_unlabelled_rows_are_a_stratum_of_the_test_split(tmp_path):
    rows = "".join(f"{i},{'a' if i < 70 else 'b' if i < 90 else ''}\n" for i in range(100))
    path = _csv(tmp_path, "v,label\n" + rows)
    splits, _ = load_data(DataConfig(spec=f"csv:{path}", test_fraction=0.2, val_fraction=0.0))
    assert torch.bincount(splits.test.y + 1).tolist() == [2, 14, 4]  # unlabelled, a, b: 20% of each
    assert torch.bincount(splits.train.y + 1).tolist() == [8, 56, 16]


def test_test_fraction_for_arrays_without_a_test_split(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.random.default_rng(0).random((50, 3)), y=np.r_[np.zeros(40), np.ones(10)])
    splits, _ = load_data(DataConfig(spec=f"npz:{tmp_path / 'a.npz'}", test_fraction=0.2, val_fraction=0.0))
    assert torch.bincount(splits.test.y).tolist() == [8, 2] and len(splits.train) == 40
    plain, _ = load_data(DataConfig(spec=f"npz:{tmp_path / 'a.npz'}", val_fraction=0.0))
    assert plain.test is None  # unset: only tables hold rows out


def test_missing_cells_are_errors_unless_masked(tmp_path):
    path = _csv(tmp_path, "a,b,c\n1.5,x,1\n,y,0\n2.5,,1\n3.5,x,0\n")
    assert "t.csv: line 3, column 'a': a missing value (set data.missing: mask" in prepare_error(path)
    splits, _ = _load(path, missing="mask")
    x, codec = splits.train.x, splits.columns
    assert codec.width == 3 + 3  # a | b (binary) | c (binary) | three indicators
    assert x[:, 3:].tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]]
    back = codec.decode(x, keep_missing=True)
    assert np.isnan(back["a"][1]) and back["b"][2] is None and back["b"][0] == "x"


@pytest.mark.parametrize("text, problem", [
    ("a,b\n1,2\n3,4,5\n", "line 3 has 3 fields, the first row has 2"),
    ("a,b\n", "a header but no data rows"),
    ("\n\n", "no data rows"),
    ("a,a\n1,2\n", "column name 'a' appears twice"),
])
def test_bad_csv_gives_one_line_naming_the_file(tmp_path, text, problem):
    path = _csv(tmp_path, text)
    message = load_error(f"csv:{path}")
    assert message.startswith(str(path)) and problem in message


@pytest.mark.parametrize("text, problem", [
    ("a,b\n1,2\n3,\n", "line 3, column 'b': a missing value"),
    ("a,b\n1,inf\n3,4\n5,6\n", "line 2, column 'b': NaN or inf in a numeric column"),
    ("a\n" + "".join(f"{i}.5\n" for i in range(20)) + "oops\n", "line 22, column 'a': non-numeric value 'oops'"),
    ("id,v\n" + "".join(f"u{i},{i}\n" for i in range(60)), "column 'id' has 60 distinct text values"),
])
def test_bad_cells_give_one_line_naming_them(tmp_path, text, problem):
    path = _csv(tmp_path, text)
    message = prepare_error(path)
    assert message.startswith(str(path)) and problem in message


def test_bad_label_column_and_encoding(tmp_path):
    path = _csv(tmp_path, IRIS_LIKE)
    assert "no label column 'kind'" in load_error(f"csv:{path}", label_column="kind")
    no_label = _csv(tmp_path, "a,y\n1,\n2,NA\n", "e.csv")
    assert "every cell of the label column 'y' is empty" in load_error(f"csv:{no_label}", label_column="y")
    only_labels = _csv(tmp_path, "y\np\nq\n", "o.csv")
    assert "no feature columns" in load_error(f"csv:{only_labels}", label_column="y")
    (tmp_path / "latin.csv").write_bytes("a\n\xe9\n".encode("latin-1"))
    assert "not UTF-8" in load_error(f"csv:{tmp_path / 'latin.csv'}")
