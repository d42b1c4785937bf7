"""IDX folders of the MNIST family: layouts, labels, EMNIST orientation and bad files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from tests.data.conftest import load_error
from tests.data.files import idx_bytes, mnist_like, write, write_idx_folder
from vaekit.data import DataConfig, load_data, load_source
from vaekit.data.sources.idx import parse_idx


@pytest.mark.parametrize("gz", [True, False])
def test_folder_loads_train_and_test_with_labels(tmp_path, gz):
    arrays = write_idx_folder(tmp_path, gz=gz)
    src = load_source(DataConfig(spec=f"mnist:{tmp_path}"))
    assert src.train.x.dtype == torch.uint8 and src.train.x.shape == (30, 1, 28, 28)
    assert torch.equal(src.train.x[:, 0], torch.from_numpy(arrays["x_train"]))
    assert torch.equal(src.test.y, torch.from_numpy(arrays["y_test"]).long())
    assert src.train.max_value == 255.0 and src.train.n_classes == src.test.n_classes == 10


def test_raw_and_gz_copies_count_as_one_file(tmp_path):
    write_idx_folder(tmp_path, gz=True)
    arrays = write_idx_folder(tmp_path, gz=False)
    src = load_source(DataConfig(spec=f"idx:{tmp_path}"))
    assert torch.equal(src.train.x[:, 0], torch.from_numpy(arrays["x_train"]))


def test_unlabelled_folder_and_single_file(tmp_path):
    arrays = write_idx_folder(tmp_path / "a", labels=False)
    src = load_source(DataConfig(spec=f"idx:{tmp_path / 'a'}"))
    assert src.train.y is None and src.train.n_classes is None
    write_idx_folder(tmp_path / "b")
    one = load_source(DataConfig(spec=f"idx:{tmp_path / 'b' / 't10k-images-idx3-ubyte.gz'}"))
    assert one.test is None and len(one.train) == 20 and one.train.y is not None  # labels found beside it
    assert torch.equal(src.test.x[:, 0], torch.from_numpy(arrays["x_test"]))


def test_emnist_prefix_selects_one_dataset_and_images_are_transposed(tmp_path):
    balanced = write_idx_folder(tmp_path, prefix="emnist-balanced-")
    write_idx_folder(tmp_path, prefix="emnist-digits-")
    message = load_error(f"idx:{tmp_path}")
    assert "several files" in message and "emnist-balanced-train-images-idx3-ubyte" in message
    src = load_source(DataConfig(spec=f"idx:{tmp_path}/emnist-balanced"))
    expected = torch.from_numpy(balanced["x_train"].transpose(0, 2, 1).copy())  # (N, W, H) stored
    assert torch.equal(src.train.x[:, 0], expected)


def test_parse_idx_decodes_other_types():
    a = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    assert np.array_equal(parse_idx(idx_bytes(a)), a)


def test_mnist_labels_outside_0_to_9_are_an_error_but_idx_accepts_them(tmp_path):
    write_idx_folder(tmp_path)
    x, _ = mnist_like(30, 0)
    y = np.full(30, 12, np.uint8)
    bad = write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(y))
    message = load_error(f"mnist:{tmp_path}")
    assert str(bad) in message and "outside the expected range [0, 9]" in message
    assert load_source(DataConfig(spec=f"idx:{tmp_path}")).train.n_classes == 13


def _truncated_gz(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:500])
    return path, "corrupt or truncated gzip"


def _corrupt_gz(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[40:60] = bytes(20)
    path.write_bytes(bytes(raw))
    return path, "corrupt or truncated gzip"


def _wrong_magic(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    write(path, b"\x12\x34" + gzip.decompress(path.read_bytes())[2:])
    return path, "bad magic number"


def _short_file(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    write(path, gzip.decompress(path.read_bytes())[:-28])
    return path, "size mismatch"


def _count_mismatch(folder):
    path = folder / "train-labels-idx1-ubyte.gz"
    write(path, idx_bytes(np.zeros(29, np.uint8)))
    return path, "29 labels for 30 images"


def _not_images(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    write(path, idx_bytes(np.zeros((30, 784), np.uint8)))
    return path, "expected uint8 images"


@pytest.mark.parametrize("damage", [_truncated_gz, _corrupt_gz, _wrong_magic, _short_file, _count_mismatch,
                                    _not_images])
def test_bad_idx_files_give_one_line_naming_the_file(tmp_path, damage):
    write_idx_folder(tmp_path)
    path, problem = damage(tmp_path)
    message = load_error(f"mnist:{tmp_path}")
    assert message.startswith(str(path)) and problem in message


def test_missing_and_empty_folders(tmp_path):
    assert "no such data folder" in load_error(f"mnist:{tmp_path / 'nope'}")
    assert "no '*train-images*' IDX file" in load_error(f"mnist:{tmp_path}")
    assert "needs a path" in load_error("idx")


def test_load_data_keeps_the_own_test_split_and_seeds_validation(tmp_path):
    write_idx_folder(tmp_path)
    a, _ = load_data(DataConfig(spec=f"mnist:{tmp_path}", val_fraction=0.2, seed=3))
    b, _ = load_data(DataConfig(spec=f"mnist:{tmp_path}", val_fraction=0.2, seed=3))
    assert (len(a.train), len(a.val), len(a.test)) == (24, 6, 20)
    assert torch.equal(a.val.x, b.val.x)
