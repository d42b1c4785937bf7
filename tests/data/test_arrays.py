"""``npy:`` / ``npz:`` arrays: layouts, dtypes, labels, Keras-style splits and bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.data.conftest import load_error
from vaekit.data import DataConfig, load_data, load_source

RNG = np.random.default_rng(0)


def _load(path, **cfg):
    return load_source(DataConfig(spec=f"npz:{path}", **cfg))


@pytest.mark.parametrize("shape, to", [((5, 8, 6), (5, 1, 8, 6)), ((5, 8, 6, 3), (5, 3, 8, 6)),
                                       ((5, 3, 8, 6), (5, 3, 8, 6)), ((5, 8, 6, 1), (5, 1, 8, 6))])
def test_image_layouts_become_nchw_uint8(tmp_path, shape, to):
    x = RNG.integers(0, 256, shape, dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    ds = load_source(DataConfig(spec=f"npy:{tmp_path / 'x.npy'}")).train
    assert ds.x.shape == to and ds.x.dtype == torch.uint8 and ds.max_value == 255.0
    nchw = x[:, None] if x.ndim == 3 else (x if shape[1] == 3 else x.transpose(0, 3, 1, 2))
    assert torch.equal(ds.x, torch.from_numpy(np.ascontiguousarray(nchw)))


def test_dtypes_decide_storage_and_scale(tmp_path):
    np.savez(tmp_path / "a.npz", x=RNG.integers(0, 2, (4, 9)).astype(np.int64))
    binary = _load(tmp_path / "a.npz").train
    assert binary.x.dtype == torch.uint8 and binary.max_value == 1.0
    np.savez(tmp_path / "b.npz", x=RNG.normal(size=(4, 9)))
    floats = _load(tmp_path / "b.npz").train
    assert floats.x.dtype == torch.float32 and floats.max_value == 1.0 and floats.x.shape == (4, 9)
    np.savez(tmp_path / "c.npz", x=np.full((4, 9), 1000, np.int32))
    assert _load(tmp_path / "c.npz").train.x.dtype == torch.float32


def test_labels_by_default_key_custom_key_and_names(tmp_path):
    x = RNG.integers(0, 256, (6, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x=x, labels=np.array([0, 1, 2, 0, 1, 2]))
    assert _load(tmp_path / "a.npz").train.y.tolist() == [0, 1, 2, 0, 1, 2]
    np.savez(tmp_path / "b.npz", images=x, target=np.array(["cat", "dog"] * 3))
    ds = _load(tmp_path / "b.npz", labels_key="target").train
    assert ds.y.tolist() == [0, 1] * 3 and ds.n_classes == 2
    message = load_error(f"npz:{tmp_path / 'b.npz'}", labels_key="y")
    assert "no labels array 'y'" in message and "images, target" in message


def test_label_minus_one_marks_unlabelled_examples_beside_labelled_ones(tmp_path):
    y = np.array([2, -1, 0, -1, 1, 2, -1, 0])
    np.savez(tmp_path / "a.npz", x=RNG.normal(size=(8, 3)), y=y)
    ds = _load(tmp_path / "a.npz").train
    assert ds.y.tolist() == y.tolist() and ds.n_classes == 3  # -1 is no class
    np.savez(tmp_path / "s.npz", x_train=RNG.normal(size=(8, 3)), y_train=y.astype(np.float32),
             x_test=RNG.normal(size=(3, 3)), y_test=np.array([-1, 4, 0]))
    splits, _ = load_data(DataConfig(spec=f"npz:{tmp_path / 's.npz'}", val_fraction=0))
    assert splits.train.y.tolist() == y.tolist() and splits.test.y.tolist() == [-1, 4, 0]
    assert splits.train.n_classes == splits.test.n_classes == 5


def test_keras_style_splits(tmp_path):
    x_train, x_test = RNG.integers(0, 256, (8, 5, 5), dtype=np.uint8), RNG.integers(0, 256, (3, 5, 5), dtype=np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=np.arange(8) % 4, x_test=x_test, y_test=np.arange(3))
    splits, _ = load_data(DataConfig(spec=f"npz:{tmp_path / 'mnist.npz'}", val_fraction=0.25))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (6, 2, 3)
    assert splits.train.n_classes == splits.test.n_classes == 4


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("arrays, problem", [
    ({"x": np.array([[0.5, np.nan], [1.0, 2.0]])}, "NaN or inf (first at example 0, index (1,))"),
    ({"x": np.array([[0.5, 1.0], [np.inf, 2.0]])}, "NaN or inf (first at example 1"),
    ({"x": np.zeros((3, 4)), "y": np.array([0, 70000, 2])}, "labels outside the expected range [0, 65,535]: found 0..70,000"),
    ({"x": np.zeros((3, 4)), "y": np.array([0, -1, -2])}, "label -2 is negative; labels are 0..K-1, or -1 for an unl"),
    ({"x": np.zeros((3, 4)), "y": np.array([-3.0, 1, 2])}, "label -3 is negative"),
    ({"x": np.zeros((3, 4)), "y": np.array([-1, -1, -1])}, "every label is -1 (unlabelled); give at least one label"),
    ({"x": np.zeros((3, 4)), "y": np.array([0, 1])}, "3 examples but labels of shape (2,)"),
    ({"x": np.zeros((3, 4)), "y": np.array([0.5, 1, 2])}, "labels must be integers"),
    ({"x": np.zeros((2, 3, 4, 5, 6))}, "expected (N, D), (N, H, W)"),
    ({"x": np.zeros((2, 7, 7, 7))}, "with C in 1, 3, 4"),
    ({"x": np.zeros((0, 4))}, "non-empty array"),
    ({"x": np.array([["a", "b"]])}, "expected numeric data"),
    ({"a": np.zeros((2, 2)), "b": np.zeros((2, 2))}, "cannot tell which array holds the data"),
])
def test_bad_arrays_give_one_line_naming_the_file(tmp_path, arrays, problem):
    path = _save(tmp_path / "d.npz", **arrays)
    message = load_error(f"npz:{path}")
    assert message.startswith(str(path)) and problem in message


def test_corrupt_truncated_and_pickled_files(tmp_path):
    path = _save(tmp_path / "d.npz", x=np.zeros((50, 50)))
    path.write_bytes(path.read_bytes()[:3000])
    assert "not a readable .npy/.npz file" in load_error(f"npz:{path}")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "not a readable" in load_error(f"npy:{tmp_path / 'o.npy'}")
    (tmp_path / "r.npy").write_bytes(b"hello world")
    assert load_error(f"npy:{tmp_path / 'r.npy'}").startswith(str(tmp_path / "r.npy"))
    assert "not a file; the npz source reads one file" in load_error(f"npz:{tmp_path}")
