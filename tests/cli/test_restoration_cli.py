"""``vaekit denoise`` and ``vaekit inpaint`` end to end on the tiny digits run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from vaekit.cli import main
from vaekit.data.corrupt import parse_corruption
from vaekit.latent import batch, choose, load_split
from vaekit.restoration import denoise, marked

from ..conftest import error_lines


def test_denoise_writes_the_grid_and_the_table_of_each_corruption(tiny_run, tmp_path, capsys):
    out = tmp_path / "dn.png"
    assert main(["denoise", str(tiny_run.path), "--corrupt", "gaussian:0.3", "--corrupt", "box:0.5+drop:0.2",
                 "--n", "4", "--n-eval", "60", "--seed", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    table = json.loads(out.with_suffix(".json").read_text())
    assert [r["corruption"] for r in table["rows"]] == ["gaussian:0.3", "box:0.5+drop:0.2"]
    ds = load_split(tiny_run)
    x, y = batch(tiny_run, ds, choose(ds, None, 60, 3))
    expected = denoise(tiny_run.model, x, y, [[parse_corruption("gaussian:0.3")],
                                              [parse_corruption("box:0.5"), parse_corruption("drop:0.2")]], seed=3)
    for got, want in zip(table["rows"], expected.table):
        assert got == pytest.approx(want)
    gaussian = table["rows"][0]
    assert 9.0 < gaussian["psnr_corrupted"] < 13.0  # noise of std 0.3, clipped to [0, 1]
    assert f"{gaussian['psnr_restored']:.2f} dB" in printed and "box:0.5+drop:0.2" in printed
    with Image.open(out) as img:
        assert img.format == "PNG" and img.height > 200  # clean + 2 x (corrupted, restored) rows


def test_denoise_defaults_to_the_runs_own_corruption(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run.path, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"]["corrupt"] = [{"kind": "salt_pepper", "fraction": 0.1}]
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["denoise", str(run), "--n", "2", "--n-eval", "20", "--json", str(tmp_path / "t.json")]) == 0
    assert [r["corruption"] for r in json.loads((tmp_path / "t.json").read_text())["rows"]] == ["salt_pepper:0.1"]
    assert (run / "latent" / "denoise.png").is_file()
    assert "salt_pepper:0.1" in capsys.readouterr().out


def test_a_bad_corruption_is_one_line_and_writes_nothing(tiny_run, tmp_path, capsys):
    out = tmp_path / "never.png"
    with pytest.raises(SystemExit) as exc:
        main(["denoise", str(tiny_run.path), "--corrupt", "gaussian:loud", "--out", str(out)])
    assert exc.value.code == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "gaussian:loud" in lines[0] and "expected a number" in lines[0]
    assert not out.exists()


def test_inpaint_scores_every_step_and_marks_the_hidden_region(tiny_run, tmp_path, capsys):
    out = tmp_path / "in.png"
    assert main(["inpaint", str(tiny_run.path), "--mask", "half", "--steps", "5", "--n", "4", "--n-eval", "80",
                 "--out", str(out)]) == 0
    table = json.loads(out.with_suffix(".json").read_text())
    psnr = table["psnr_per_step"]
    assert len(psnr) == 6 and psnr[5] > psnr[0] + 2.0 and table["psnr_filled"] == psnr[5]
    assert f"{psnr[5]:.2f} dB after 5 steps" in capsys.readouterr().out
    with Image.open(out) as img:
        rgb = np.asarray(img.convert("RGB")).astype(int)
    red = (rgb[..., 0] > 180) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)
    assert red.sum() > 500  # the hidden halves, painted


def test_marked_paints_only_the_hidden_pixels():
    x = torch.full((1, 1, 2, 2), 0.5)
    mask = torch.tensor([[[[True, False], [False, False]]]])
    rgb = marked(x, mask, 1.0)
    assert rgb.shape == (1, 3, 2, 2)
    torch.testing.assert_close(rgb[0, :, 0, 0], torch.tensor([0.9, 0.1, 0.1]))
    assert torch.equal(rgb[0, :, 1, 1], torch.full((3,), 0.5))
