"""``csv:FILE``: header detection, label mapping, standardization saved in the run, bad files."""

from __future__ import annotations

import gzip

import pytest
import torch

from tests.conftest import tiny_config
from tests.data.conftest import load_error
from vaekit.data import DataConfig, load_data, load_source

IRIS_LIKE = "sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n4.9,1.5,setosa\n"


def _csv(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    return path


def test_header_features_and_label_names(tmp_path):
    src = load_source(DataConfig(spec=f"csv:{_csv(tmp_path, IRIS_LIKE)}", label_column="species"))
    assert src.train.x.dtype == torch.float32 and src.train.x.shape == (4, 2)
    assert src.train.x[1].tolist() == [7.0, pytest.approx(4.7)]
    assert src.train.y.tolist() == [0, 1, 2, 0] and src.train.n_classes == 3
    assert src.extra == {"columns": ["sepal", "petal"], "classes": ["setosa", "versicolor", "virginica"]}


@pytest.mark.parametrize("name, text", [
    ("a.csv", "1.5,2,10\n2.5,3,9\n0,1,10\n"),
    ("a.tsv", "1.5\t2\t10\n2.5\t3\t9\n0\t1\t10\n"),
    ("a.csv.gz", "1.5;2;10\n2.5;3;9\n0;1;10\n"),
])
def test_no_header_separators_and_numeric_labels_in_numeric_order(tmp_path, name, text):
    src = load_source(DataConfig(spec=f"csv:{_csv(tmp_path, text, name)}", label_column="2"))
    assert src.train.x.tolist() == [[1.5, 2.0], [2.5, 3.0], [0.0, 1.0]]
    assert src.train.y.tolist() == [1, 0, 1] and src.extra["classes"] == ["9", "10"]


def test_csv_is_standardized_by_default_and_can_opt_out(tmp_path):
    path = _csv(tmp_path, "a,b\n" + "".join(f"{i},{i * i}\n" for i in range(20)))
    splits, pre = load_data(DataConfig(spec=f"csv:{path}"))
    assert torch.allclose(pre.mean, splits.train.x.mean(0)) and torch.allclose(pre.std, splits.train.x.std(0))
    x = pre(splits.train.x)
    assert torch.allclose(x.mean(0), torch.zeros(2), atol=1e-5)
    _, raw = load_data(DataConfig(spec=f"csv:{path}", standardize=False))
    assert raw.mean is None
    _, images = load_data(DataConfig(spec="digits"))
    assert images.mean is None  # only tabular sources standardize by default


def test_run_saves_and_reuses_the_standardization(tmp_path):
    import vaekit

    path = _csv(tmp_path, "a,b,c\n" + "".join(f"{i},{i % 7 * 10},{-i / 3}\n" for i in range(60)))
    cfg = tiny_config(tmp_path / "runs", epochs=1)
    cfg["data"] = {"spec": f"csv:{path}"}
    cfg["model"]["likelihood"] = "gaussian"
    run = vaekit.train(cfg)
    assert (run.path / "preprocess.safetensors").is_file()
    loaded = vaekit.open_run(run.path)
    splits, pre = load_data(DataConfig(spec=f"csv:{path}"))
    assert torch.equal(loaded.preprocessor.mean, pre.mean) and torch.equal(loaded.preprocessor.std, pre.std)
    x = loaded.preprocessor(splits.val.x)  # (N, 3) in model space
    assert torch.allclose(loaded.preprocessor.invert(x), splits.val.x, atol=1e-5)


@pytest.mark.parametrize("text, problem", [
    ("a,b\n1,2\n3,x\n", "line 3, column 'b': non-numeric value 'x'"),
    ("a,b\n1,2\n3,\n", "line 3, column 'b': an empty cell"),
    ("a,b\n1,2\n3,nan\n", "line 3, column 'b': NaN or inf"),
    ("a,b\n1,inf\n3,4\n", "line 2, column 'b': NaN or inf"),
    ("a,b\n1,1e39\n3,4\n", "too large for float32"),
    ("a,b\n1,2\n3,4,5\n", "line 3 has 3 fields, the first row has 2"),
    ("a,b\n", "a header but no data rows"),
    ("\n\n", "no data rows"),
])
def test_bad_csv_gives_one_line_naming_the_file(tmp_path, text, problem):
    path = _csv(tmp_path, text)
    message = load_error(f"csv:{path}")
    assert message.startswith(str(path)) and problem in message


def test_bad_label_column_and_encoding(tmp_path):
    path = _csv(tmp_path, IRIS_LIKE)
    assert "no label column 'kind'" in load_error(f"csv:{path}", label_column="kind")
    assert "non-numeric value 'setosa'" in load_error(f"csv:{path}")
    empty_label = _csv(tmp_path, "a,y\n1,p\n2,\n", "e.csv")
    assert "line 3: empty label" in load_error(f"csv:{empty_label}", label_column="y")
    only_labels = _csv(tmp_path, "y\np\nq\n", "o.csv")
    assert "no feature columns" in load_error(f"csv:{only_labels}", label_column="y")
    (tmp_path / "latin.csv").write_bytes("a\n\xe9\n".encode("latin-1"))
    assert "not UTF-8" in load_error(f"csv:{tmp_path / 'latin.csv'}")
