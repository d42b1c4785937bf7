"""Semi-supervised data: keep a few labels, hide the rest, and put labelled examples in every batch.

``data.labelled: N`` keeps N training labels, balanced over the classes and seeded, and replaces
the others with :data:`~vaekit.data.dataset.UNLABELLED` (-1); validation and test data keep theirs.
With 100 labels among 50,000 examples a shuffled batch rarely holds one, so the training loop
appends a fresh draw of labelled examples to every batch (:class:`LabelledBatches`), as Kingma et
al. (2014) put labelled examples in every minibatch. Everything works on index tensors.
"""

from __future__ import annotations

import torch

from ..errors import DataError
from .dataset import UNLABELLED, Dataset

#: Odd 64-bit constants mixing (seed, rank, step) into one generator seed (SplitMix64's increments).
_SEED_MIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9)


def balanced_choice(y: torch.Tensor, n: int, n_classes: int, seed: int) -> torch.Tensor:
    """Positions of ``n`` labelled examples, ``n // C`` of each class (the first ``n % C`` classes of a
    seeded class order get one more), each class's examples drawn at random.

    Args:
        y: ``(N,)`` labels (:data:`UNLABELLED` entries are never chosen).
        n: number of labels to keep.
        n_classes: C.
        seed: seed of the draw.
    Returns ``(n,)`` sorted int64 positions. Raises DataError when a class has too few examples.
    """
    g = torch.Generator().manual_seed(seed)
    quota = torch.full((n_classes,), n // n_classes, dtype=torch.long)
    quota[torch.randperm(n_classes, generator=g)[:n % n_classes]] += 1  # (C,)
    counts = torch.bincount(y[y >= 0], minlength=n_classes)  # (C,)
    short = (counts < quota).nonzero()
    if len(short):
        c = int(short[0])
        raise DataError(f"data.labelled={n} needs {int(quota[c])} examples of class {c}, the training split has "
                        f"{int(counts[c])}")
    perm = torch.randperm(len(y), generator=g)  # random order within each class
    y_perm = y[perm]
    order = torch.argsort(y_perm, stable=True)  # (N,) grouped by class, unlabelled first
    y_sorted = y_perm[order]
    sizes = torch.bincount(y_sorted + 1, minlength=n_classes + 1)  # (1 + C,) unlabelled, then each class
    starts = torch.cumsum(sizes, 0) - sizes  # first sorted position of each
    rank = torch.arange(len(y)) - starts[y_sorted + 1]  # position within its class
    keep = (y_sorted >= 0) & (rank < quota[y_sorted.clamp_min(0)])
    return perm[order[keep]].sort().values


def keep_labels(ds: Dataset, n: int, seed: int) -> Dataset:
    """``ds`` with only ``n`` labels kept (see :func:`balanced_choice`), the others set to -1."""
    if ds.y is None:
        raise DataError(f"{ds.name or 'the data'}: data.labelled needs labelled data")
    if n > int((ds.y >= 0).sum()):
        raise DataError(f"data.labelled={n} is more than the {int((ds.y >= 0).sum())} labelled training examples")
    kept = balanced_choice(ds.y, n, ds.n_classes, seed)
    y = torch.full_like(ds.y, UNLABELLED)
    y[kept] = ds.y[kept]
    return Dataset(x=ds.x, y=y, max_value=ds.max_value, n_classes=ds.n_classes, factors=ds.factors,
                   factor_names=ds.factor_names, name=ds.name)


class LabelledBatches:
    """Appends ``per_batch`` labelled examples, drawn without replacement for each step, to a batch.

    The draw is a function of (seed, rank, step) only, so a resumed run draws what an uninterrupted
    one would. Inactive (returns the batch unchanged) when every training example is labelled, none
    is, or ``per_batch`` is 0.

    Args:
        y: ``(N,)`` training labels (on the device the batches' indices live on), or None.
        per_batch: labelled examples appended to every batch.
        seed: the training seed.
        rank: this process's rank (ranks draw differently).
    """

    def __init__(self, y: torch.Tensor | None, per_batch: int, seed: int, rank: int = 0) -> None:
        self.per_batch, self.seed, self.rank = per_batch, seed, rank
        mixed = y is not None and per_batch > 0 and bool((y < 0).any()) and bool((y >= 0).any())
        self.pool = (y >= 0).nonzero()[:, 0] if mixed else None  # (L,) positions of the labelled examples

    @property
    def active(self) -> bool:
        return self.pool is not None

    def __call__(self, idx: torch.Tensor, step: int) -> torch.Tensor:
        """``idx (b,)`` -> ``(b + min(per_batch, L),)``: the batch, then the labelled draw for ``step``."""
        if self.pool is None:
            return idx
        key = (self.seed * _SEED_MIX[0] + self.rank * _SEED_MIX[1] + step) % (1 << 63)
        pick = torch.randperm(len(self.pool), generator=torch.Generator().manual_seed(key))[:self.per_batch]
        return torch.cat([idx, self.pool[pick.to(self.pool.device)]])
