"""`vaekit runs`: the runs under a folder with their figures, sorted, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import shutil

import vaekit
from vaekit.cli import main

from ..conftest import tiny_config


def test_runs_lists_finished_runs_with_their_figures(tiny_run, tmp_path, capsys):
    folder = tmp_path / "runs"
    shutil.copytree(tiny_run.path, folder / "evaluated")
    assert main(["evaluate", str(folder / "evaluated"), "--iw-samples", "5", "--no-probe", "-q"]) == 0
    vaekit.train({**tiny_config(folder, epochs=1), "name": "one"})
    vaekit.train({**tiny_config(folder / "nested", epochs=2), "name": "two"})
    capsys.readouterr()

    assert main(["runs", str(folder), "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"evaluated", "one", "nested/two"}
    for name, epochs in (("evaluated", 3), ("one", 1), ("nested/two", 2)):
        info = json.loads((folder / name / "run.json").read_text())
        metrics = [json.loads(line) for line in (folder / name / "metrics.jsonl").read_text().splitlines()]
        assert rows[name]["status"] == "finished" and rows[name]["epochs"] == epochs
        assert rows[name]["test_nelbo"] == info["test"]["nelbo"]
        assert rows[name]["best_val_nelbo"] == min(m["val_nelbo"] for m in metrics)
        assert rows[name]["model"] == "vae" and rows[name]["data"] == "digits"
    nll = json.loads((folder / "evaluated" / "evaluation.json").read_text())["nll"]
    assert rows["evaluated"]["nll"] == nll and rows["one"]["nll"] is None

    assert main(["runs", str(folder), "--sort", "test_nelbo"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["run", "model", "data", "epochs"] and len(table) == 4
    order = sorted(rows, key=lambda n: rows[n]["test_nelbo"])
    assert [line.split()[0] for line in table[1:]] == order
    assert f"{rows['evaluated']['nll']:.2f}" in table[1 + order.index("evaluated")]

    assert main(["runs", str(folder), "--sort", "epochs", "--reverse", "--format", "csv"]) == 0
    parsed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["name"] for r in parsed] == ["evaluated", "nested/two", "one"]
    assert parsed[0]["nll"] == str(nll) and parsed[1]["nll"] == ""


def test_runs_of_an_empty_or_missing_folder(tmp_path, capsys):
    assert main(["runs", str(tmp_path)]) == 0
    assert "no runs under" in capsys.readouterr().out
    assert main(["runs", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
