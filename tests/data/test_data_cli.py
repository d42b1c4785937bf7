"""``vaekit data inspect``: the summary it prints, and one-line errors with exit status 2."""

from __future__ import annotations

import numpy as np
import pytest

from tests.data.files import amat_bytes, idx_bytes, write, write_idx_folder
from vaekit.cli import main


def test_inspect_prints_counts_shapes_ranges_and_labels(capsys):
    assert main(["data", "inspect", "digits", "--set", "val_fraction=0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "spec: digits"
    assert out[1].split() == ["train", "1528", "examples", "shape", "1x8x8", "uint8", "values", "0..16",
                              "(scaled", "by", "1/16)"]
    assert out[2].split() == ["10", "classes:", "0:155", "1:152", "2:151", "3:169", "4:159", "5:145", "6:151",
                              "7:148", "8:144", "9:154"]
    assert out[3].startswith("test      269 examples")


def test_inspect_csv_reports_columns_and_settings(tmp_path, capsys):
    path = write(tmp_path / "t.csv", b"a,b,kind\n1.5,2,x\n3.5,4,y\n5.5,6,x\n7.5,8,y\n")
    assert main(["data", "inspect", f"csv:{path}", "--set", "data.label_column=kind", "--set", "val_fraction=0",
                 "--set", "test_fraction=0"]) == 0
    out = capsys.readouterr().out
    assert "train       4 examples  shape 2  float32  values -1.34164..1.34164" in out and "2 classes: 0:2 1:2" in out
    assert "columns: a numeric, b numeric (numbers standardized with the training rows' mean and std)" in out


def test_inspect_counts_the_unlabelled_examples_of_a_file(tmp_path, capsys):
    np.savez(tmp_path / "a.npz", x=np.zeros((10, 3), np.uint8), y=np.array([0, -1, 1, 1, -1, 0, 2, -1, 2, 2]))
    assert main(["data", "inspect", f"npz:{tmp_path / 'a.npz'}", "--set", "val_fraction=0"]) == 0
    assert "3 classes: 0:2 1:2 2:3 (and 3 unlabelled)" in capsys.readouterr().out
    np.savez(tmp_path / "b.npz", x=np.zeros((3, 3), np.uint8), y=np.array([0, -2, 1]))
    assert main(["data", "inspect", f"npz:{tmp_path / 'b.npz'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"vaekit: error: {tmp_path / 'b.npz'}[y]: label -2 is negative; labels are 0..K-1, or -1 for an "
                   "unlabelled example"]


def _bad_idx(tmp_path):
    write_idx_folder(tmp_path)
    return f"mnist:{tmp_path}", write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(3, np.uint8)))


def _bad_amat(tmp_path):
    return "amat:" + str(tmp_path), write(tmp_path / "x_train.amat", amat_bytes(np.ones((2, 4))) + b"0 1\n")


def _bad_npz(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.array([[np.inf]]))
    return f"npz:{tmp_path / 'a.npz'}", tmp_path / "a.npz"


def _bad_csv(tmp_path):
    path = write(tmp_path / "a.csv", b"a,b\n1,2\n3,\n")  # a missing cell
    return f"csv:{path}", path


def _bad_image(tmp_path):
    path = write(tmp_path / "c" / "a.png", b"\x89PNG garbage")
    return f"images:{tmp_path}", path


@pytest.mark.parametrize("make", [_bad_idx, _bad_amat, _bad_npz, _bad_csv, _bad_image])
def test_bad_input_is_one_line_naming_the_file_and_exit_2(tmp_path, capsys, make):
    spec, path = make(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    assert main(["data", "inspect", spec]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"vaekit: error: {path}")
    assert sorted(tmp_path.rglob("*")) == before  # nothing written


def test_unknown_source_and_setting_are_config_errors(capsys):
    assert main(["data", "inspect", "nosuch:x"]) == 2
    assert "unknown data source 'nosuch'" in capsys.readouterr().err
    assert main(["data", "inspect", "digits", "--set", "colour=1"]) == 2
    assert "unknown config key 'data.colour'" in capsys.readouterr().err
