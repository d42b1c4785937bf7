"""scikit-learn's bundled 8x8 digits (1,797 images, values 0..16): the built-in default, no download."""

from __future__ import annotations

import torch

from .. import SOURCES, DataConfig
from ..dataset import Dataset, SourceData

#: Fraction of the digits held out (seeded, fixed) as their test split.
DIGITS_TEST_FRACTION = 0.15


@SOURCES.register("digits")
def digits_source(arg: str | None, cfg: DataConfig) -> SourceData:
    """Images ``(1797, 1, 8, 8)`` uint8 in 0..16, labels 0..9; a fixed seeded test split of 15%."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype("uint8")).unsqueeze(1)  # (N, 1, 8, 8)
    y = torch.from_numpy(bunch.target.astype("int64"))
    full = Dataset(x=x, y=y, max_value=16.0, n_classes=10, name="digits")
    perm = torch.randperm(len(full), generator=torch.Generator().manual_seed(1234))
    n_test = int(len(full) * DIGITS_TEST_FRACTION)
    return SourceData(train=full.subset(perm[n_test:]), test=full.subset(perm[:n_test]))
