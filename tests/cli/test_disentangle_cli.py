"""`vaekit disentangle RUN`: scores printed, JSON and annotated traversal figure written; clear errors."""

from __future__ import annotations

import json

import pytest

import vaekit
from vaekit.cli import main


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    """A small VAE trained for one epoch on 2,000 small shapes."""
    return vaekit.train({"out_dir": str(tmp_path_factory.mktemp("runs")), "name": "shapes",
                         "data": {"spec": "shapes:small:2000"},
                         "model": {"latent_dim": 3, "net": {"hidden": [32]}},
                         "train": {"epochs": 1, "batch_size": 128, "progress": False}})


def test_disentangle_prints_scores_and_writes_json_and_figure(shapes_run, capsys):
    code = main(["disentangle", str(shapes_run.path), "--scale", "0.01", "--dci-importance", "lasso"])
    out = capsys.readouterr().out
    assert code == 0
    for metric in ("beta_vae", "factor_vae", "mig", "dci", "sap"):
        assert metric in out
    result = json.loads((shapes_run.path / "disentanglement.json").read_text())
    assert set(result["scores"]) == {"beta_vae", "factor_vae", "mig", "dci", "sap"}
    assert 0.0 <= result["scores"]["mig"]["mig"] <= 1.0
    assert [row["dim"] for row in result["latent_factors"]] == [0, 1, 2]
    assert result["nmi"]["factors"] == ["shape", "scale", "orientation", "pos_x", "pos_y"]
    assert (shapes_run.path / "disentanglement.png").stat().st_size > 1000


def test_disentangle_subset_of_metrics_to_chosen_files(shapes_run, tmp_path, capsys):
    out, fig = tmp_path / "d.json", tmp_path / "d.png"
    assert main(["disentangle", str(shapes_run.path), "--metrics", "mig,sap", "--scale", "0.01",
                 "--out", str(out), "--figure", str(fig)]) == 0
    assert set(json.loads(out.read_text())["scores"]) == {"mig", "sap"} and fig.is_file()


def test_disentangle_on_data_without_factors_is_one_line_error(tiny_run, capsys):
    assert main(["disentangle", str(tiny_run.path), "--scale", "0.01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no ground-truth factors" in err[0]
    assert not (tiny_run.path / "disentanglement.json").exists()


def test_disentangle_rejects_unknown_metric_names(shapes_run, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["disentangle", str(shapes_run.path), "--metrics", "mig,nope"])
    assert exc.value.code == 2 and "choose metrics from" in capsys.readouterr().err
