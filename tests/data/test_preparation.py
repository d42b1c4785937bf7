"""Splits, static and dynamic binarization, standardization and summaries over ``load_data``."""

from __future__ import annotations

import pytest
import torch

from vaekit.data import DataConfig, Dataset, load_data
from vaekit.data.summary import describe
from vaekit.errors import ConfigError


def test_own_test_split_is_kept_and_validation_is_seeded_and_disjoint():
    a, _ = load_data(DataConfig(spec="digits", val_fraction=0.2, seed=5))
    b, _ = load_data(DataConfig(spec="digits", val_fraction=0.2, seed=5))
    c, _ = load_data(DataConfig(spec="digits", val_fraction=0.2, seed=6))
    assert len(a.test) == 269 and len(a.train) + len(a.val) == 1797 - 269
    assert torch.equal(a.val.x, b.val.x) and not torch.equal(a.val.x, c.val.x)
    rows = {r.tobytes() for r in a.train.x.flatten(1).numpy()}
    assert sum(r.tobytes() in rows for r in a.val.x.flatten(1).numpy()) < 5  # only duplicate digits overlap
    none, _ = load_data(DataConfig(spec="digits", val_fraction=0))
    assert none.val is None and len(none.train) == 1797 - 269


def test_static_binarization_is_one_fixed_sample():
    a, pre = load_data(DataConfig(spec="digits", binarize="static", seed=1))
    b, _ = load_data(DataConfig(spec="digits", binarize="static", seed=1))
    for split in ("train", "val", "test"):
        x = getattr(a, split).x
        assert set(x.unique().tolist()) <= {0, 16} and torch.equal(x, getattr(b, split).x)
    batch = a.train.x[:64]
    assert torch.equal(pre(batch, train=True), pre(batch, train=True))  # never re-sampled
    assert set(pre(batch, train=True).unique().tolist()) == {0.0, 1.0}


def test_dynamic_binarization_resamples_every_training_batch():
    splits, pre = load_data(DataConfig(spec="digits", binarize="dynamic"))
    x = splits.train.x  # stored intensities, untouched
    assert x.unique().numel() == 17
    first, second = pre(x, train=True), pre(x, train=True)
    assert set(first.unique().tolist()) == {0.0, 1.0} and not torch.equal(first, second)
    draws = torch.stack([pre(x[:200], train=True) for _ in range(400)]).mean(0)  # (200, 1, 8, 8)
    assert (draws - x[:200] / 16).abs().max() < 0.12  # E[x_bin] = intensity (Burda et al. 2015)
    assert torch.equal(pre(x, train=False), x / 16)  # evaluation batches are not re-sampled
    again, _ = load_data(DataConfig(spec="digits", binarize="dynamic"))
    assert set(splits.test.x.unique().tolist()) == {0, 16} and torch.equal(splits.test.x, again.test.x)


def test_binarize_and_standardize_conflict():
    with pytest.raises(ConfigError, match="cannot both be set"):
        DataConfig(binarize="dynamic", standardize=True)


def test_explicit_standardization_of_images():
    splits, pre = load_data(DataConfig(spec="digits", standardize=True))
    assert pre.mean.shape == (1, 8, 8) and torch.allclose(pre.mean, splits.train.x.float().mean(0) / 16)
    assert (pre.std >= 1e-6).all()  # constant border pixels do not divide by zero


def test_describe_counts_shapes_ranges_and_labels():
    splits, _ = load_data(DataConfig(spec="digits", val_fraction=0))
    info = describe(splits)
    assert list(info) == ["train", "test"]
    assert info["train"] | {"label_counts": None} == {
        "count": 1528, "shape": [1, 8, 8], "dtype": "uint8", "min": 0.0, "max": 16.0, "max_value": 16.0,
        "n_classes": 10, "label_counts": None, "n_unlabelled": 0}
    assert sum(info["train"]["label_counts"]) == 1528 and len(info["test"]["label_counts"]) == 10


def test_dataset_rejects_non_finite_and_empty_data():
    from vaekit.data import DataError

    with pytest.raises(DataError, match="NaN or inf"):
        Dataset(x=torch.tensor([[0.0, float("nan")]]), name="t")
    with pytest.raises(DataError, match="no examples"):
        Dataset(x=torch.zeros(0, 3), name="t")
