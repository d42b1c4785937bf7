"""Tables from the command line: train on a mixed CSV with missing cells, synthesize, impute, score per
column, the report's fidelity section; and the fidelity report of a bundled table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.cli.test_anomaly_cli import vaekit
from tests.tabular.helpers import mixed_table
from vaekit.tabular.columns import missing_mask


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """(folder, CSV path, run folder): a 300-row mixed table with 8% empty cells, trained with the
    defaults except the epoch budget (and data.missing: mask, which missing cells need)."""
    folder = tmp_path_factory.mktemp("tables")
    text, _ = mixed_table(n=300, missing=0.08, seed=0)
    path = folder / "people.csv"
    path.write_text(text)
    return folder, path


def test_a_mixed_csv_with_missing_cells_trains_from_the_cli(mixed, capsys):
    folder, path = mixed
    code, _, err = vaekit(capsys, "train", "--data", f"csv:{path}", "--epochs", "30", "--out-dir", folder,
                          "--name", "people", "--quiet")
    assert code == 2 and "people.csv: line" in err and "a missing value (set data.missing: mask" in err
    code, out, err = vaekit(capsys, "train", "--data", f"csv:{path}", "--set", "data.missing=mask", "--epochs", "30",
                            "--out-dir", folder, "--name", "people", "--quiet")
    assert code == 0, err
    run = folder / "people"
    cols = pd.read_json(run / "columns.json", typ="series")["columns"]
    assert [(c["name"], c["kind"]) for c in cols] == [("height", "numeric"), ("weight", "numeric"),
                                                      ("colour", "categorical"), ("rating", "categorical"),
                                                      ("smoker", "binary")]
    assert "likelihood: tabular" in (run / "config.yaml").read_text()
    report = (run / "report.html").read_text()
    assert "Synthetic rows vs real rows" in report and "TSTR" in report


def test_synthesize_writes_the_same_columns_types_and_categories(mixed, capsys):
    folder, path = mixed
    out = folder / "synthetic.csv"
    code, stdout, err = vaekit(capsys, "synthesize", folder / "people", "--n", "200", "--out", out)
    assert code == 0 and "200 rows" in stdout, err
    real, rows = pd.read_csv(path), pd.read_csv(out)
    assert list(rows.columns) == ["height", "weight", "colour", "rating", "smoker"]  # the label is not modelled
    assert rows.notna().all().all() and len(rows) == 200
    assert rows["rating"].dtype == np.int64 and set(rows["rating"]) <= set(real["rating"].dropna().astype(int))
    assert set(rows["colour"]) <= {"red", "green", "blue"} and set(rows["smoker"]) <= {"yes", "no"}
    assert rows["height"].dtype == np.float64 and (rows["height"] * 10 % 1 < 1e-6).all()  # one decimal, as read
    assert abs(rows["height"].mean() - real["height"].mean()) < 0.5 * real["height"].std()


def test_impute_fills_every_missing_cell_and_keeps_the_rest(mixed, capsys):
    folder, path = mixed
    out = folder / "filled.csv"
    code, stdout, err = vaekit(capsys, "impute", folder / "people", "--data", f"csv:{path}", "--out", out)
    assert code == 0, err
    real = pd.read_csv(path, keep_default_na=False, dtype=str)
    filled = pd.read_csv(out, keep_default_na=False, dtype=str)
    holes = np.stack([missing_mask(real[c].astype(object)) for c in real.columns[:5]], 1)
    assert holes.sum() > 50 and f"{holes.sum()} missing cells filled" in stdout
    assert list(filled.columns) == list(real.columns) and len(filled) == len(real)
    assert (filled.iloc[:, :5] != "").all().all()  # every cell filled
    assert (filled.iloc[:, :5].to_numpy()[~holes] == real.iloc[:, :5].to_numpy()[~holes]).all()  # the rest kept
    assert set(filled["colour"]) <= {"red", "green", "blue"} and set(filled["rating"]) <= {"1", "2", "3", "4", "5"}
    code, stdout, err = vaekit(capsys, "impute", folder / "people", "--data", f"csv:{path}", "--out",
                               folder / "draws.csv", "--draws", "2", "--k", "20")
    draws = pd.read_csv(folder / "draws.csv")
    assert code == 0 and list(draws["imputation"].unique()) == [1, 2] and len(draws) == 2 * len(real)


def test_per_column_contributions_name_the_broken_column(mixed, capsys):
    folder, path = mixed
    odd = pd.read_csv(path).dropna().head(40)
    odd.loc[odd.index[:20], "weight"] = odd["weight"].iloc[:20] + 60  # 60 kg heavier than their height says
    odd.to_csv(folder / "odd.csv", index=False)
    code, _, err = vaekit(capsys, "anomaly", "score", folder / "people", "--data", f"csv:{folder / 'odd.csv'}",
                          "--columns", "--out", folder / "odd_scores.csv")
    assert code == 0, err
    scores = pd.read_csv(folder / "odd_scores.csv")
    contrib = scores[[c for c in scores.columns if c.startswith("column:")]]
    assert list(contrib.columns) == ["column:height", "column:weight", "column:colour", "column:rating",
                                     "column:smoker"]
    assert (contrib.iloc[:20].idxmax(axis=1) == "column:weight").mean() > 0.9
    assert scores["nll"].iloc[:20].min() > scores["nll"].iloc[20:].median()


def test_impute_needs_a_masked_table_run(tiny_run, mixed, capsys):
    folder, path = mixed
    code, _, err = vaekit(capsys, "impute", tiny_run.path, "--data", f"csv:{path}", "--out", folder / "x.csv")
    assert code == 2 and "not trained on a table" in err and not (folder / "x.csv").exists()


def test_fidelity_report_of_a_bundled_table(tmp_path):
    """The wine table (scikit-learn), a conditional VAE: per-column KS, correlation difference, TSTR vs TRTR."""
    from sklearn.datasets import load_wine

    import vaekit
    from vaekit.latent.tables import fidelity

    wine = load_wine(as_frame=True).frame
    wine.to_csv(tmp_path / "wine.csv", index=False)
    cfg = {"out_dir": str(tmp_path), "name": "wine", "data": {"spec": f"csv:{tmp_path / 'wine.csv'}"},
           "model": {"name": "cvae", "latent_dim": 4, "net": {"hidden": [64]}},
           "train": {"epochs": 100, "batch_size": 32, "progress": False}}
    run = vaekit.train(cfg)
    report, real, synthetic = fidelity(run)
    assert [c["metric"] for c in report["columns"]] == ["KS"] * 13 + ["TV"]  # 13 numbers, the label "target"
    assert report["mean_column_distance"] < 0.3 and report["correlation"]["pairs"] == 78
    assert report["correlation"]["mean"] < 0.2
    use = report["utility"]
    assert use["target"] == "target" and use["trtr_accuracy"] > 0.8 and use["tstr_accuracy"] > 0.7
    assert use["tstr_accuracy"] > use["majority_accuracy"] + 0.2
    assert "Synthetic rows vs real rows" in (run.path / "report.html").read_text()
