"""The latent-space subcommands in process: files written, printed paths, one-line errors (exit 2)."""

from __future__ import annotations

import argparse
import importlib.util

import numpy as np
import pytest
from PIL import Image

import vaekit
from vaekit.cli import main
from vaekit.cli.latent_args import out_path
from vaekit.models import MODELS

from ..conftest import error_lines, tiny_config

UMAP = importlib.util.find_spec("umap") is not None


def run_cli(capsys, *args) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("command, extra, out, files", [
    ("sample", ["--n", "10", "--temperature", "0.7", "--mean"], "o.png", ["o.png"]),
    ("reconstruct", ["--indices", "0,3,5", "--split", "val"], "o.png", ["o.png"]),
    ("interpolate", ["--indices", "1,2", "--steps", "4", "--method", "slerp", "--gif", "{tmp}/i.gif"], "o.png",
     ["o.png", "i.gif"]),
    ("traverse", ["--index", "2", "--steps", "5", "--all-dims"], "o.png", ["o.png"]),
    ("arithmetic", ["--add", "1", "--sub", "7", "--n", "4", "--scale", "0.5", "--scale", "1"], "o.png", ["o.png"]),
    ("project", ["--method", "pca", "--max-points", "100"], "o.png", ["o.png"]),
    ("embed", ["--split", "test"], "o.npz", ["o.npz", "o.csv"]),
    ("report", [], "o.html", ["o.html"]),
])
def test_subcommands_write_their_files(capsys, tiny_run, tmp_path, command, extra, out, files):
    extra = [e.format(tmp=tmp_path) for e in extra]
    code, stdout, stderr = run_cli(capsys, command, tiny_run.path, "--out", tmp_path / out, *extra)
    assert code == 0, stderr
    for name in files:
        assert (tmp_path / name).stat().st_size > 0
        assert f"written: {tmp_path / name}" in stdout


def test_embed_output_matches_the_split(capsys, tiny_run, tmp_path):
    run_cli(capsys, "embed", tiny_run.path, "--out", tmp_path / "e.npz")
    arrays = np.load(tmp_path / "e.npz")
    assert arrays["mu"].shape == (tiny_run.info["n_test"], 4) and arrays["labels"].shape == (tiny_run.info["n_test"],)


def test_interpolate_between_image_files(capsys, tiny_run, tmp_path):
    for name, col in (("a.png", 2), ("b.png", 5)):
        img = np.zeros((8, 8), np.uint8)
        img[:, col] = 255
        Image.fromarray(img).save(tmp_path / name)
    code, _, stderr = run_cli(capsys, "interpolate", tiny_run.path, tmp_path / "a.png", tmp_path / "b.png",
                              "--out", tmp_path / "o.png")
    assert code == 0, stderr
    assert (tmp_path / "o.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["sample", "{run}", "--label", "3"], "needs a model with classes"),
    (["sample", "{run}", "--n", "0"], "argument --n: must be an integer in [1, 10,000], got 0"),
    (["traverse", "{run}", "--kind", "manifold"], "needs a 2-D latent space"),
    (["interpolate", "{run}", "--indices", "1,2,3"], "exactly two"),
    (["interpolate", "{run}", "{tmp}/big.png", "{tmp}/big.png"], "28x28 pixels but the model takes 8x8"),
    (["reconstruct", "{run}", "--indices", "99999"], "out of range"),
    (["arithmetic", "{run}", "--add", "1", "--sub", "42"], "no examples with label 42"),
    pytest.param(["project", "{run}", "--method", "umap"], "umap-learn",
                 marks=pytest.mark.skipif(UMAP, reason="umap-learn is installed")),
    (["reconstruct", "{run}", "--data", "nosuch"], "unknown data source 'nosuch'"),
    (["report", "{tmp}/not-a-run"], "no such run directory"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tiny_run, tmp_path, args, message):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "big.png")
    args = [a.format(run=tiny_run.path, tmp=tmp_path) for a in args]
    code, _, stderr = run_cli(capsys, *args, "--out", tmp_path / "x.out")
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], stderr
    assert not (tmp_path / "x.out").exists()


def test_default_output_goes_to_the_run_latent_folder():
    args = argparse.Namespace(out=None, run="runs/r", out_name="embedding.npz")
    assert str(out_path(args)) == "runs/r/latent/embedding.npz"
    args.out = "here.npz"
    assert str(out_path(args)) == "here.npz"


@pytest.mark.skipif("cvae" not in MODELS, reason="no conditional model registered")
def test_conditional_model_with_a_2d_latent_space(capsys, tmp_path):
    cfg = tiny_config(tmp_path, epochs=1)
    cfg["model"].update(name="cvae", latent_dim=2)
    run = vaekit.train(cfg)
    assert (run.path / "report.html").is_file()
    for args in (["sample", "--label", "3", "--n", "4"], ["traverse", "--label", "5", "--grid", "4"],
                 ["traverse", "--kind", "dims", "--index", "0"], ["interpolate", "--indices", "0,1"],
                 ["arithmetic", "--add", "1", "--sub", "7", "--n", "2"]):
        out = tmp_path / f"{args[0]}-{len(args)}.png"
        code, _, stderr = run_cli(capsys, args[0], run.path, "--out", out, *args[1:])
        assert code == 0, stderr
        assert out.is_file()
    code, _, stderr = run_cli(capsys, "sample", run.path, "--label", "10")
    assert code == 2 and "label must lie in [0, 9]" in stderr


def test_an_image_bomb_given_to_interpolate_is_one_line(capsys, tiny_run, tmp_path):
    from tests.data.test_limits import png_header

    (tmp_path / "bomb.png").write_bytes(png_header(100_000, 100_000))  # 10 gigapixels in 100 bytes
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "ok.png")
    code, _, stderr = run_cli(capsys, "interpolate", tiny_run.path, tmp_path / "ok.png", tmp_path / "bomb.png",
                              "--out", tmp_path / "o.png")
    assert code == 2 and len(error_lines(stderr)) == 1 and "Traceback" not in stderr
    assert "bomb.png: unreadable image" in stderr and "pixels" in stderr and not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("command", [["sample"], ["reconstruct"], ["embed"], ["evaluate", "--iw-samples", "2"],
                                     ["report"]])
def test_an_output_that_is_a_folder_is_one_line_before_any_work(capsys, tiny_run, tmp_path, command):
    code, _, stderr = run_cli(capsys, command[0], tiny_run.path, *command[1:], "--out", tmp_path)
    assert code == 2 and len(error_lines(stderr)) == 1 and "Traceback" not in stderr
    assert f"{tmp_path}: is a folder; give a file name" in stderr and not any(tmp_path.iterdir())
