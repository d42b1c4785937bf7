"""`vaekit anomaly fit/score/eval` end to end: one-class digits, a tabular CSV, backgrounds, errors."""

import csv
import json

import numpy as np
import pytest

from vaekit.cli import main

TINY = ["--latent-dim", "4", "--set", "model.net.hidden=[64]", "--batch-size", "32", "--quiet"]
FAST = ["--k", "20", "--elbo-samples", "2"]


def vaekit(capsys, *args):
    """Run the CLI in-process: (exit status, stdout, stderr)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def table(stdout):
    """{score: {column: value}} from the printed metrics table."""
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("score"))
    rows = {}
    for line in lines[head + 1:]:
        if line.startswith("histogram:"):
            break
        name, *values = line.split()
        rows[name] = dict(zip(["auroc", "auprc", "fpr95", "threshold", "val_fpr", "test_fpr", "test_tpr"],
                              map(float, values)))
    return rows


@pytest.fixture(scope="module")
def zeros_run(tmp_path_factory):
    """A VAE trained by `vaekit anomaly fit` on the zeros of the built-in digits."""
    out = tmp_path_factory.mktemp("anomaly")
    assert main(["anomaly", "fit", "--normal-classes", "0", "--epochs", "30", *TINY,
                 "--out-dir", str(out), "--name", "zeros"]) == 0
    return out / "zeros"


def test_fit_trains_on_the_normal_classes_only(zeros_run):
    info = json.loads((zeros_run / "run.json").read_text())
    assert info["n_train"] + info["n_val"] + info["n_test"] == 178  # the zeros among the 1,797 digits


def test_eval_one_class_separates_zeros_and_writes_a_histogram(zeros_run, capsys, tmp_path):
    code, out, _ = vaekit(capsys, "anomaly", "eval", zeros_run, *FAST, "--json", tmp_path / "r.json")
    assert code == 0, out
    rows = table(out)
    assert set(rows) == {"nelbo", "nll", "recon", "kl", "complexity"}
    for name in ("nelbo", "nll", "recon"):
        assert rows[name]["auroc"] > 0.95, (name, out)
        assert rows[name]["val_fpr"] <= 0.05
    assert "23 normal and 246 anomalous" in out
    assert (zeros_run / "anomaly_hist.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "r.json").read_text())["scores"]
    assert saved["nll"]["auroc"] == pytest.approx(rows["nll"]["auroc"], abs=1e-3)


def test_eval_against_another_source_uses_the_runs_own_normal_test_split(zeros_run, capsys, tmp_path):
    code, out, err = vaekit(capsys, "anomaly", "eval", zeros_run, "--anomalous", "digits", "--scores", "nll",
                            *FAST, "--hist", tmp_path / "h.png")
    assert code == 0, err
    assert "normal digits (test split) vs anomalous digits" in out and "23 normal and 269 anomalous" in out
    assert 0.8 < table(out)["nll"]["auroc"] < 1.0  # the anomalous source also holds the 23 zeros


def test_score_writes_one_row_per_test_example(zeros_run, capsys, tmp_path):
    out_csv = tmp_path / "scores.csv"
    code, out, _ = vaekit(capsys, "anomaly", "score", zeros_run, "--score", "nll,kl", *FAST, "--out", out_csv)
    assert code == 0 and "wrote 269 rows" in out
    rows = list(csv.DictReader(out_csv.open()))
    assert list(rows[0]) == ["index", "label", "nll", "kl"] and len(rows) == 269
    assert [int(r["index"]) for r in rows] == list(range(269))
    nll = np.array([float(r["nll"]) for r in rows])
    is_zero = np.array([r["label"] == "0" for r in rows])
    assert nll[is_zero].mean() < nll[~is_zero].mean()


def test_background_run_gives_the_likelihood_ratio(zeros_run, capsys):
    out_dir = zeros_run.parent
    assert main(["anomaly", "fit", "--normal-classes", "0", "--perturb", "0.2", "--epochs", "10", *TINY,
                 "--out-dir", str(out_dir), "--name", "background"]) == 0
    capsys.readouterr()
    code, out, _ = vaekit(capsys, "anomaly", "eval", zeros_run, "--background", out_dir / "background",
                          "--scores", "nll,llr", *FAST, "--hist", out_dir / "llr.png")
    assert code == 0 and set(table(out)) == {"nll", "llr"}
    assert table(out)["llr"]["auroc"] > 0.8


def fraud_like_table(rng, n, anomalous=False):
    """8 features on a 2-D manifold with very different scales; anomalies break the correlations
    (three columns shuffled across rows) while keeping every feature's marginal distribution."""
    mix = np.array([[1, 0.5], [0.3, -1], [2, 1], [-1, 1], [0.5, 0.5], [1, -2], [-0.5, -0.3], [0, 1]])
    x = rng.normal(size=(n, 2)) @ mix.T + 0.05 * rng.normal(size=(n, 8))
    if anomalous:
        for j in (0, 3, 5):
            x[:, j] = rng.permutation(x[:, j])
    return x * np.array([1, 10, 100, 0.1, 1000, 1, 5, 50]) + np.array([0, 5, -300, 1, 2e4, 0, 0, 7])


def write_csv(path, x):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f"f{j}" for j in range(x.shape[1])])
        w.writerows(x.round(5).tolist())
    return path


def test_tabular_csv_end_to_end(tmp_path, capsys):
    rng = np.random.default_rng(0)
    train = write_csv(tmp_path / "train.csv", fraud_like_table(rng, 1000))
    normal = write_csv(tmp_path / "normal.csv", fraud_like_table(rng, 200))
    fraud = write_csv(tmp_path / "fraud.csv", fraud_like_table(rng, 200, anomalous=True))
    code, out, err = vaekit(capsys, "train", "--data", f"csv:{train}", "--likelihood", "gaussian_learned",
                            "--set", "data.standardize=true", "--latent-dim", "2", "--set", "model.net.hidden=[64]",
                            "--epochs", "30", "--lr", "3e-3", "--batch-size", "64", "--out-dir", tmp_path, "--name", "tab", "--quiet")
    assert code == 0, err
    run = tmp_path / "tab"
    code, out, err = vaekit(capsys, "anomaly", "eval", run, "--normal", f"csv:{normal}",
                            "--anomalous", f"csv:{fraud}", *FAST)
    assert code == 0, err
    rows = table(out)
    assert rows["nll"]["auroc"] > 0.95 and rows["nelbo"]["auroc"] > 0.95, out
    assert rows["nll"]["val_fpr"] <= 0.05 and rows["nll"]["test_fpr"] < 0.15
    code, out, err = vaekit(capsys, "anomaly", "score", run, "--data", f"csv:{fraud}", "--score", "recon",
                            "--out", tmp_path / "fraud_scores.csv")
    assert code == 0 and "wrote 200 rows" in out
    first = next(csv.DictReader((tmp_path / "fraud_scores.csv").open()))
    assert first["label"] == "" and float(first["recon"]) > 0


@pytest.mark.parametrize("args, message", [
    (["score", "{run}", "--score", "llr"], "needs a background model"),
    (["score", "{run}", "--score", "nope"], "unknown anomaly score 'nope'"),
    (["eval", "{run}", "--normal", "digits"], "--normal needs --anomalous"),
    (["eval", "{run}", "--anomalous", "digits", "--normal-classes", "1"], "two protocols"),
    (["eval", "{run}", "--normal-classes", "0,1,2,3,4,5,6,7,8,9"], "no normal or no anomalous"),
    (["eval", "{run}", "--quantile", "1.5"], "quantile must lie in (0, 1]"),
    (["score", "/no/such/run"], "no such run directory"),
    (["fit", "--normal-classes", "x"], "expected class numbers"),
])
def test_bad_input_is_one_line_and_exit_2(zeros_run, capsys, args, message):
    code, _, err = vaekit(capsys, "anomaly", *(a.replace("{run}", str(zeros_run)) for a in args))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err


def _labelled_csv(path, rng, n_normal, n_anomalous, label="label"):
    x = np.r_[fraud_like_table(rng, n_normal), fraud_like_table(rng, n_anomalous, anomalous=True)]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*(f"f{j}" for j in range(8)), label])
        w.writerows([*row, int(i >= n_normal)] for i, row in enumerate(x.round(5).tolist()))
    return path


def test_one_class_protocol_on_a_labelled_csv_and_its_data_options(tmp_path, capsys):
    """The label column is found by name, the test split held out by default, so `anomaly eval RUN` works
    on a CSV; another CSV names its label column with --set data.label_column, as train does."""
    rng = np.random.default_rng(1)
    data = _labelled_csv(tmp_path / "cards.csv", rng, 600, 150)
    code, out, err = vaekit(capsys, "anomaly", "fit", "--data", f"csv:{data}", "--normal-classes", "0", "--preset",
                            "tabular", "--epochs", "25", "--out-dir", tmp_path, "--name", "cards", "--quiet")
    assert code == 0, err
    code, out, err = vaekit(capsys, "anomaly", "eval", tmp_path / "cards", *FAST)
    assert code == 0, err
    rows = table(out)
    assert "complexity" not in rows and {"nll", "nelbo", "recon", "recon_nll", "kl"} == set(rows)  # table scores
    assert rows["nll"]["auroc"] > 0.95, out
    record = json.loads((tmp_path / "cards" / "columns.json").read_text())
    assert [c["name"] for c in record["columns"]] == [f"f{j}" for j in range(8)] and record["label"] == "label"
    other = _labelled_csv(tmp_path / "other.csv", rng, 100, 50, label="kind")
    args = ["anomaly", "eval", tmp_path / "cards", "--data", f"csv:{other}", "--normal-classes", "0", *FAST]
    code, out, err = vaekit(capsys, *args)
    assert code == 2 and "one-class protocol needs labelled data" in err  # "kind" is not a label name
    code, out, err = vaekit(capsys, *args, "--set", "data.label_column=kind")
    assert code == 0 and "100 normal and 50 anomalous test examples" in out, err
    assert table(out)["nll"]["auroc"] > 0.95
