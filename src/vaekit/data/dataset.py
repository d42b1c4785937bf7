"""In-memory datasets, splits, per-batch preprocessing and batch iteration.

A dataset is one tensor ``x`` of shape ``(N, C, H, W)`` (images) or ``(N, D)`` (vectors), kept as
``uint8`` where the source is 8-bit and converted to float per batch, so no per-sample Python runs
in the training loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator

import torch

from ..errors import DataError
from ..limits import check_labels_range

#: The label of an example whose class is hidden or unknown (semi-supervised training data).
UNLABELLED = -1


@dataclass
class Dataset:
    """Examples held in memory.

    Attributes:
        x: ``(N, C, H, W)`` images or ``(N, D)`` vectors; ``uint8`` or ``float32``.
        y: ``(N,)`` int64 class labels in [0, n_classes), :data:`UNLABELLED` (-1) for an example
            without one (semi-supervised data), or None.
        max_value: what ``x`` is divided by to reach [0, 1] (255 for 8-bit, 1 for binary/float).
        n_classes: number of classes when labelled.
        factors: ``(N, F)`` ground-truth generative factors (shapes data), or None.
        factor_names: names of the F factors.
        name: human-readable origin (file or source name), used in messages.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    max_value: float = 1.0
    n_classes: int | None = None
    factors: torch.Tensor | None = None
    factor_names: tuple[str, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        where = self.name or "data"
        if self.x.dim() not in (2, 3, 4):
            raise DataError(f"{where}: expected (N, D), (N, L) or (N, C, H, W) data, got shape {tuple(self.x.shape)}")
        if self.x.shape[0] == 0:
            raise DataError(f"{where}: no examples")
        if self.x.is_floating_point() and not torch.isfinite(self.x).all():
            raise DataError(f"{where}: contains NaN or inf values")
        if self.y is not None:
            self._check_labels(where)

    def _check_labels(self, where: str) -> None:
        """Labels are class indices ``0..K-1``; without ``n_classes``, K = largest label + 1 must be at
        most ``max(N, 65,536)`` (:func:`vaekit.limits.class_limit`), checked before anything is allocated
        per class. :data:`UNLABELLED` (-1) marks a hidden label, allowed beside labelled examples, and
        everywhere in a split of labelled data (``n_classes`` given: a subset may hold no labelled row)."""
        if self.y.shape != (self.x.shape[0],):
            raise DataError(f"{where}: {self.x.shape[0]} examples but labels of shape {tuple(self.y.shape)}")
        if self.y.is_floating_point() or self.y.is_complex() or self.y.dtype == torch.bool:
            raise DataError(f"{where}: labels must be integers, got dtype {self.y.dtype}")
        self.y = self.y.long()
        lo, hi = int(self.y.min()), int(self.y.max())
        if lo == UNLABELLED and (hi >= 0 or self.n_classes is not None):  # hidden labels (semi-supervised)
            lo = 0  # the others, integers above -1, lie in 0..hi
        check_labels_range(lo, hi, len(self.y), where, self.n_classes)
        if self.n_classes is None:
            self.n_classes = hi + 1

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one example, e.g. ``(1, 28, 28)`` or ``(64,)``."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4

    def labelled(self) -> "Dataset":
        """The examples with a label (``y >= 0``, not :data:`UNLABELLED`); ``self`` when every example
        has one or the data has no labels. None labelled is a DataError."""
        keep = None if self.y is None else self.y >= 0  # (N,)
        if keep is None or bool(keep.all()):
            return self
        if not bool(keep.any()):
            raise DataError(f"{self.name or 'data'}: every example is unlabelled (-1)")
        return self.subset(keep.nonzero().squeeze(1))

    def subset(self, index: torch.Tensor) -> "Dataset":
        """Examples at ``index`` (a 1-D index tensor), sharing metadata."""
        return Dataset(
            x=self.x[index],
            y=None if self.y is None else self.y[index],
            max_value=self.max_value,
            n_classes=self.n_classes,
            factors=None if self.factors is None else self.factors[index],
            factor_names=self.factor_names,
            name=self.name,
        )


@dataclass
class Splits:
    """Train / validation / test datasets (val and test may be None).

    Attributes:
        likelihood: the likelihood their source asks for (``SourceData.likelihood``).
        columns: the fitted columns of table data (a :class:`~vaekit.tabular.codec.TableCodec`:
            how rows were encoded and decode back), None for other data.
        extra: facts about the source (``SourceData.extra``), e.g. ``classes``.
    """

    train: Dataset
    val: Dataset | None = None
    test: Dataset | None = None
    likelihood: str | None = None
    columns: object | None = None
    extra: dict = field(default_factory=dict)

    @property
    def class_names(self) -> list[str] | None:
        """Class names by label: the source's ``extra["classes"]``, else "0", "1", ...; None unlabelled."""
        n = self.train.n_classes if self.train.y is not None else None
        if n is None:
            return None
        names = [str(c) for c in self.extra.get("classes") or []]
        return names + [str(k) for k in range(len(names), n)]

    def get(self, split: str) -> Dataset:
        ds = {"train": self.train, "val": self.val, "valid": self.val, "test": self.test}.get(split)
        if ds is None:
            have = [name for name in ("train", "val", "test") if getattr(self, name) is not None]
            raise DataError(f"split {split!r} is not available (have: {', '.join(have)})")
        return ds


@dataclass
class SourceData:
    """What a source reader returns: its own splits where it has them.

    Attributes:
        extra: facts about the source, e.g. ``classes`` (class names by label) or ``columns``.
        standardize: whether ``load_data`` standardizes when ``data.standardize`` is unset
            (True for tabular sources).
        likelihood: the registered likelihood this source's data needs, which ``model.likelihood:
            auto`` resolves to (None: decided from the values, see ``vaekit.likelihoods``).
        table: for table sources, the cells as read (a :class:`~vaekit.tabular.columns.Table`);
            ``x`` then holds row numbers ``(N, 1)``, and ``load_data`` splits those rows and
            encodes them (:mod:`vaekit.tabular.codec`).
    """

    train: Dataset
    test: Dataset | None = None
    val: Dataset | None = None
    extra: dict = field(default_factory=dict)
    standardize: bool = False
    likelihood: str | None = None
    table: object | None = None


def split_off_validation(train: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Split a seeded random ``fraction`` of ``train`` off as validation data."""
    n = len(train)
    n_val = max(1, int(round(n * fraction)))
    if n_val >= n:
        raise DataError(f"{train.name}: {n} examples are too few for a validation split of {fraction}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return train.subset(perm[n_val:]), train.subset(perm[:n_val])


def split_off_test(ds: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Hold a seeded ``fraction`` of ``ds`` out as test data, stratified by label when labelled.

    Each class gives ``round(fraction * n_class)`` examples (at least one when it has two or more),
    so rare classes appear in both splits; unlabelled examples (-1) are one more group, split alike.
    """
    g = torch.Generator().manual_seed(seed)
    groups = [torch.arange(len(ds))] if ds.y is None else [
        (ds.y == k).nonzero().squeeze(1) for k in torch.unique(ds.y)]
    test = []
    for idx in groups:
        n_test = int(round(len(idx) * fraction))
        n_test = min(max(n_test, 1 if len(idx) > 1 else 0), len(idx) - 1)
        test.append(idx[torch.randperm(len(idx), generator=g)[:n_test]])
    held = torch.cat(test).sort().values
    keep = torch.ones(len(ds), dtype=torch.bool)
    keep[held] = False
    if len(held) == 0 or not keep.any():
        raise DataError(f"{ds.name}: {len(ds)} examples are too few for a test split of {fraction}")
    return ds.subset(keep.nonzero().squeeze(1)), ds.subset(held)


def batch_indices(n: int, batch_size: int, shuffle: bool, generator: torch.Generator | None = None,
                  drop_last: bool = False) -> Iterator[torch.Tensor]:
    """Yield index tensors covering ``range(n)`` in batches (one randperm per epoch when shuffling)."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def n_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    return n // batch_size if drop_last and n >= batch_size else math.ceil(n / batch_size)
