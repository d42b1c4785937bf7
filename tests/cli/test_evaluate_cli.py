"""`vaekit evaluate` end to end on a tiny run: the table, the JSON file, one-line errors."""

from __future__ import annotations

import json
import shutil

import pytest

from vaekit.cli import main


def test_evaluate_prints_a_table_and_writes_json_into_the_run(tiny_run, tmp_path, capsys):
    run = shutil.copytree(tiny_run.path, tmp_path / "run")  # the shared run stays read-only
    assert main(["evaluate", str(run), "--iw-samples", "20", "--iw-examples", "100"]) == 0
    out = capsys.readouterr().out
    for label in ("negative ELBO", "reconstruction", "KL(q(z|x) || p(z))", "NLL (IWAE, K=20, 100 ex.)",
                  "bits/dim", "active units", "linear probe accuracy", "KL per latent dimension (4, nats)"):
        assert label in out
    result = json.loads((run / "evaluation.json").read_text())
    assert result["iw_samples"] == 20 and result["iw_examples"] == 100 and result["split"] == "test"
    assert f"{result['nll']:.2f} ± {result['nll_se']:.2f} nats" in out
    assert not list(run.glob(".evaluation.json.*"))  # written atomically: no temporary left


def test_evaluate_options_and_out_file(tiny_run, tmp_path, capsys):
    out_file = tmp_path / "sub" / "eval.json"
    args = ["evaluate", str(tiny_run.path), "--split", "val", "--weights", "last", "--iw-samples", "5",
            "--no-probe", "--threads", "1", "--budget", "100000", "--out", str(out_file)]
    assert main(args) == 0
    result = json.loads(out_file.read_text())
    assert result["split"] == "val" and result["weights"] == "last" and result["threads"] == 1
    assert result["probe_accuracy"] is None and "n/a" in capsys.readouterr().out
    assert not (tiny_run.path / "evaluation.json").exists()


def exit_status(argv: list[str]) -> int:
    """``main``'s status, also when argparse exits."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize("args, message", [
    (["/no/such/run"], "no such run directory"),
    (["RUN", "--iw-samples", "0"], "argument --iw-samples: must be an integer in [1, 1,000,000], got 0"),
    (["RUN", "--data", "shapes:small"], "do not fit the model"),
    (["RUN", "--split", "nope"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(tiny_run, tmp_path, capsys, args, message):
    args = [str(tiny_run.path) if a == "RUN" else a for a in args]
    assert exit_status(["evaluate", *args, "--out", str(tmp_path / "e.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "e.json").exists()
