"""The real files in ``../shared/data`` (skipped when absent): counts, shapes, values, checksums.

Content checksums are SHA-256 of the decoded uint8 arrays (images ``(N, 1, 28, 28)`` C order, labels
as uint8); they were computed once from the published files and agree with hashing the IDX payload
(the bytes after the header) and ``np.loadtxt`` of the ``.amat`` files independently.
"""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
import torch

from tests.conftest import SHARED_DATA
from vaekit.data import DataConfig, load_source
from vaekit.data.fetch import DATASETS, sha256_of

MNIST, BINARIZED = SHARED_DATA / "mnist", SHARED_DATA / "binarized_mnist"
needs_mnist = pytest.mark.skipif(not MNIST.is_dir(), reason=f"{MNIST} not present")
needs_binarized = pytest.mark.skipif(not BINARIZED.is_dir(), reason=f"{BINARIZED} not present")

MNIST_FACTS = {
    "train": (60000, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
              "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
              "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13"),
    "test": (10000, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
             "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
             "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"),
}
BINARIZED_FACTS = {
    "train": (50000, 5118041, "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a"),
    "val": (10000, 1028036, "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e"),
    "test": (10000, 1038896, "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86"),
}


def _sha(t: torch.Tensor) -> str:
    return hashlib.sha256(t.numpy().astype(np.uint8).tobytes()).hexdigest()


@needs_mnist
def test_mnist_counts_shapes_values_and_content():
    src = load_source(DataConfig(spec=f"mnist:{MNIST}"))
    for split, (n, label_counts, x_sha, y_sha) in MNIST_FACTS.items():
        ds = getattr(src, split)
        assert ds.x.shape == (n, 1, 28, 28) and ds.x.dtype == torch.uint8 and ds.max_value == 255
        assert (int(ds.x.min()), int(ds.x.max())) == (0, 255) and ds.n_classes == 10
        assert torch.bincount(ds.y).tolist() == label_counts
        assert (_sha(ds.x), _sha(ds.y)) == (x_sha, y_sha)


@needs_binarized
def test_binarized_mnist_counts_shapes_values_and_content():
    src = load_source(DataConfig(spec=f"amat:{BINARIZED}"))
    for split, (n, ones, x_sha) in BINARIZED_FACTS.items():
        ds = getattr(src, split)
        assert ds.x.shape == (n, 1, 28, 28) and ds.x.dtype == torch.uint8 and ds.max_value == 1
        assert (int(ds.x.min()), int(ds.x.max())) == (0, 1) and int(ds.x.sum()) == ones and ds.y is None
        assert _sha(ds.x) == x_sha


@needs_mnist
@needs_binarized
def test_fetch_registry_checksums_match_the_published_files():
    for f in DATASETS["mnist"].files:
        assert sha256_of(MNIST / f.name) == f.sha256 and (MNIST / f.name).stat().st_size == f.size
    for f in DATASETS["binarized-mnist"].files:  # served uncompressed; gzip-compressed here
        raw = gzip.decompress((BINARIZED / f"{f.name}.gz").read_bytes())
        assert hashlib.sha256(raw).hexdigest() == f.sha256 and len(raw) == f.size
