"""Semi-supervised data: a balanced, seeded subset of labels; -1 for the rest; labelled rows in every batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.data import UNLABELLED, DataConfig, Dataset, LabelledBatches, load_data
from vaekit.data.labelled import balanced_choice
from vaekit.errors import ConfigError, DataError


def test_balanced_choice_takes_equal_shares_of_each_class_seeded():
    y = torch.tensor([0] * 50 + [1] * 10 + [2] * 30 + [-1] * 20)
    y = y[torch.randperm(110, generator=torch.Generator().manual_seed(0))]
    chosen = balanced_choice(y, 9, 3, seed=5)
    assert torch.bincount(y[chosen], minlength=3).tolist() == [3, 3, 3]
    assert torch.equal(chosen, balanced_choice(y, 9, 3, seed=5))
    assert not torch.equal(chosen, balanced_choice(y, 9, 3, seed=6))
    assert len(set(chosen.tolist())) == 9 and (y[chosen] >= 0).all()
    counts = torch.bincount(y[balanced_choice(y, 8, 3, seed=5)], minlength=3)
    assert sorted(counts.tolist()) == [2, 3, 3]  # the remainder goes to seeded classes, one each
    with pytest.raises(DataError, match="class 1"):
        balanced_choice(y, 33, 3, seed=0)


def test_labelled_keeps_n_training_labels_and_leaves_validation_and_test_alone():
    splits, _ = load_data(DataConfig(spec="digits", labelled=20, seed=1))
    full, _ = load_data(DataConfig(spec="digits", seed=1))
    kept = splits.train.y >= 0
    assert int(kept.sum()) == 20 and torch.bincount(splits.train.y[kept], minlength=10).tolist() == [2] * 10
    assert (splits.train.y[~kept] == UNLABELLED).all()
    assert torch.equal(splits.train.y[kept], full.train.y[kept])  # the kept labels are the true ones
    assert torch.equal(splits.train.x, full.train.x)  # every example stays, unlabelled
    assert torch.equal(splits.val.y, full.val.y) and torch.equal(splits.test.y, full.test.y)
    other, _ = load_data(DataConfig(spec="digits", labelled=20, seed=1, val_fraction=0))
    again, _ = load_data(DataConfig(spec="digits", labelled=20, seed=1, val_fraction=0))
    seed2, _ = load_data(DataConfig(spec="digits", labelled=20, seed=2, val_fraction=0))
    assert torch.equal(other.train.y, again.train.y) and not torch.equal(other.train.y, seed2.train.y)
    with pytest.raises(ConfigError, match="data.labelled"):
        DataConfig(labelled=0)
    with pytest.raises(DataError, match="data.labelled=5000"):
        load_data(DataConfig(spec="digits", labelled=5000))


def test_unlabelled_marker_is_accepted_beside_labels_or_in_a_split_of_labelled_data():
    x = torch.zeros(4, 3)
    assert Dataset(x, torch.tensor([0, -1, 2, -1])).n_classes == 3
    assert Dataset(x, torch.tensor([-1, -1, -1, -1]), n_classes=3).n_classes == 3  # e.g. a small validation split
    for bad, n_classes in (([0, -2, 1, 1], None), ([-1, -1, -1, -1], None), ([-2, -1, 0, 1], 3)):
        with pytest.raises(DataError, match="labels outside the expected range"):
            Dataset(x, torch.tensor(bad), n_classes=n_classes)


def test_labelled_keeps_only_labels_the_file_has(tmp_path):
    g = np.random.default_rng(0)
    y = np.where(np.arange(300) % 3 == 0, -1, np.arange(300) % 4)  # a third unlabelled in the file
    np.savez(tmp_path / "a.npz", x=g.random((300, 5)), y=y)
    cfg = {"spec": f"npz:{tmp_path / 'a.npz'}", "val_fraction": 0, "seed": 2}
    full, _ = load_data(DataConfig(**cfg))
    splits, _ = load_data(DataConfig(**cfg, labelled=12))
    kept = splits.train.y >= 0
    assert int(kept.sum()) == 12 and torch.bincount(splits.train.y[kept], minlength=4).tolist() == [3] * 4
    assert (full.train.y[kept] >= 0).all() and torch.equal(splits.train.y[kept], full.train.y[kept])
    with pytest.raises(DataError, match="data.labelled=201 is more than the 200 labelled training examples"):
        load_data(DataConfig(**cfg, labelled=201))


def test_every_batch_gets_a_fresh_seeded_draw_of_labelled_examples():
    y = torch.full((1000,), -1)
    y[torch.arange(0, 1000, 50)] = torch.arange(20) % 10  # 20 labelled
    mix = LabelledBatches(y, 4, seed=3)
    idx = torch.arange(100, 132)
    out = mix(idx, step=7)
    assert torch.equal(out[:32], idx) and len(out) == 36 and (y[out[32:]] >= 0).all()
    assert len(set(out[32:].tolist())) == 4  # without replacement
    assert torch.equal(out, LabelledBatches(y, 4, seed=3)(idx, step=7))  # a function of (seed, step): resumable
    draws = {tuple(mix(idx, step)[32:].tolist()) for step in range(60)}
    assert len(draws) == 60 and set().union(*draws) == set(torch.arange(0, 1000, 50).tolist())
    assert len(LabelledBatches(y, 50, seed=3)(idx, 0)) == 32 + 20  # at most every labelled example once
    for inactive in (LabelledBatches(torch.arange(10) % 3, 4, 0), LabelledBatches(None, 4, 0),
                     LabelledBatches(y, 0, 0), LabelledBatches(torch.full((10,), -1), 4, 0)):
        assert torch.equal(inactive(idx[:8], 0), idx[:8])
