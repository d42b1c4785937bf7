"""Binarized MNIST ``.amat`` files: the published layout, loose whitespace, splits and bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.data.conftest import load_error
from tests.data.files import amat_bytes, write
from vaekit.data import DataConfig, load_data, load_source
from vaekit.data.sources.amat import parse_amat


def _binary(n: int, seed: int, d: int = 784) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, (n, d), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".amat", ".amat.gz"])
def test_folder_has_train_valid_test_images_with_max_value_1(tmp_path, suffix):
    parts = {split: _binary(n, i) for i, (split, n) in enumerate([("train", 12), ("valid", 5), ("test", 4)])}
    for split, x in parts.items():
        write(tmp_path / f"binarized_mnist_{split}{suffix}", amat_bytes(x))
    src = load_source(DataConfig(spec=f"amat:{tmp_path}"))
    assert src.train.x.shape == (12, 1, 28, 28) and src.train.x.dtype == torch.uint8
    assert src.train.max_value == 1.0 and src.train.y is None
    assert torch.equal(src.val.x.reshape(5, -1), torch.from_numpy(parts["valid"]))
    assert torch.equal(src.test.x.reshape(4, -1), torch.from_numpy(parts["test"]))
    splits, _ = load_data(DataConfig(spec=f"amat:{tmp_path}"))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (12, 5, 4)  # own validation split kept


def test_loose_whitespace_matches_the_fast_path():
    x = _binary(6, 0)
    canonical = amat_bytes(x)
    loose = b"\n" + canonical.replace(b" ", b"  ").replace(b"\n", b" \r\n") + b"\n\n"
    assert np.array_equal(parse_amat(canonical), x)
    assert np.array_equal(parse_amat(loose), x)


def test_single_file_and_non_square_lines(tmp_path):
    path = write(tmp_path / "flat.amat", amat_bytes(_binary(3, 1, d=10)))
    src = load_source(DataConfig(spec=f"amat:{path}"))
    assert src.train.x.shape == (3, 10) and src.test is None


@pytest.mark.parametrize("text, problem", [
    (b"0 1 0\n0 1\n", "line 2 has 2 values, line 1 has 3"),
    (b"0 1 0\n0 2 0\n", "line 2: expected values 0 or 1, found b'2'"),
    (b"0 1 0\n0 0.5 0\n", "found b'0.5'"),
    (b"\n \n", "no data lines"),
])
def test_bad_amat_gives_one_line_naming_the_file(tmp_path, text, problem):
    path = write(tmp_path / "binarized_mnist_train.amat", text)
    message = load_error(f"amat:{tmp_path}")
    assert message.startswith(str(path)) and problem in message


def test_truncated_gz_and_missing_train_file(tmp_path):
    path = write(tmp_path / "binarized_mnist_train.amat.gz", amat_bytes(_binary(50, 2)))
    path.write_bytes(path.read_bytes()[:-10])
    assert "corrupt or truncated gzip" in load_error(f"amat:{tmp_path}")
    path.unlink()
    write(tmp_path / "binarized_mnist_test.amat", amat_bytes(_binary(2, 2)))
    assert "no '*train.amat'" in load_error(f"amat:{tmp_path}")


def test_split_with_another_line_length_is_an_error(tmp_path):
    write(tmp_path / "binarized_mnist_train.amat", amat_bytes(_binary(3, 0)))
    bad = write(tmp_path / "binarized_mnist_test.amat", amat_bytes(_binary(3, 0, d=100)))
    assert load_error(f"amat:{tmp_path}").startswith(str(bad))
