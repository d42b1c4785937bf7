"""The prior, posterior and decoder models train, sample and evaluate from the command line; what their
latent space does not support is one clear line (exit status 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaekit.cli import main

TINY = {
    "vampprior": ["model.n_pseudo=5"],
    "mog_prior": ["model.n_components=3"],
    "iaf": ["model.flow_hidden=[8]", "model.context_dim=4"],
    "pixelcnn_vae": ["model.ar_channels=4", "model.ar_layers=1", "model.cond_channels=1"],
    "vq_vae": ["model.code_grid=[2,2]", "model.codebook_size=6", "model.prior_channels=8", "model.prior_layers=1"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Train each model once (1 epoch on the digits), on demand: ``runs(name) -> run folder``."""
    folder, done = tmp_path_factory.mktemp("prior-runs"), {}

    def get(model: str) -> str:
        if model not in done:
            sets = [a for s in ["model.net.hidden=[16]", "train.progress=false", *TINY[model]] for a in ("--set", s)]
            assert main(["train", "--model", model, "--epochs", "1", "--latent-dim", "3", "--out-dir", str(folder),
                         "--name", model, *sets]) == 0
            done[model] = str(folder / model)
        return done[model]
    return get


@pytest.mark.parametrize("model", sorted(TINY))
def test_trains_samples_and_evaluates(model, runs, capsys):
    run = runs(model)
    assert main(["sample", run, "--n", "4"]) == 0
    assert main(["evaluate", run, "--iw-samples", "4", "--iw-examples", "8", "--no-probe"]) == 0
    result = json.loads((Path(run) / "evaluation.json").read_text())
    assert result["nll"] is not None and result["iw_samples"] == (1 if model == "vq_vae" else 4)
    assert (result["kl_per_dim"] is None) == (model != "pixelcnn_vae")
    report = (Path(run) / "report.html").read_text()
    assert ("Latent-space pictures left out" in report) == (model == "vq_vae")
    out = capsys.readouterr().out
    assert "prior" in out and "written:" in out
    if model == "vq_vae":
        assert result["latent_summary"]["codebook_size"] == 6 and "code perplexity" in out


def test_discrete_codes_refuse_continuous_tools_in_one_line(runs, capsys):
    run = runs("vq_vae")
    capsys.readouterr()
    for args in (["interpolate", run, "--indices", "0,1"], ["traverse", run], ["sample", run, "--prior", "gmm"]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "continuous latent" in err[0] and "vq_vae" in err[0]


def test_post_hoc_prior_from_the_command_line(runs, tmp_path, capsys):
    run = runs("vampprior")
    assert main(["sample", run, "--prior", "gmm", "--components", "3", "--out", str(tmp_path / "a.png")]) == 0
    assert main(["sample", run, "--prior", "gmm", "--components", "3", "--out", str(tmp_path / "b.png")]) == 0
    out = capsys.readouterr().out
    assert "fitted:" in out and "cached:" in out
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()  # same draws, cached fit
