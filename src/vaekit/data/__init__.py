"""Data sources, splits and preprocessing. ``load_data(DataConfig)`` is the entry point."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from ..errors import ConfigError, DataError
from ..limits import MAX_IMAGE_SIZE_PIXELS, check_seed
from ..registry import Registry
from .dataset import (UNLABELLED, Dataset, SourceData, Splits, batch_indices, n_batches, split_off_test,
                      split_off_validation)
from .labelled import LabelledBatches, keep_labels
from .preprocess import BINARIZE_MODES, Preprocessor, binarize_once, fit_standardizer, perturb_once, value_range

log = logging.getLogger(__name__)
#: name -> reader(arg: str | None, cfg: DataConfig) -> SourceData
SOURCES: Registry = Registry("data source")


@dataclass
class DataConfig:
    """Where the data comes from and how it is prepared.

    Attributes:
        spec: source spec ``NAME`` or ``NAME:ARG``, e.g. ``digits``, ``mnist:/data/mnist``.
        binarize: "none", "dynamic" (re-sampled each epoch) or "static" (one fixed sample).
        standardize: per-feature standardization (for Gaussian likelihoods on tabular data); None
            (the default): on for ``csv`` and for vector data outside [0, 1], off for the others.
        val_fraction: fraction of train split off (seeded) when the source has no validation split;
            0 trains on the whole training split (no validation).
        seed: seed for the validation split and for fixed binarization of evaluation data.
        image_size: ``[H, W]`` to resize/center-crop images to (image folders).
        grayscale: force grayscale (True) or RGB (False) for image folders; None keeps the files' mode.
        test_fraction: fraction held out (seeded, stratified by label) as test data when the source
            has no test split of its own; None (unset) holds out 0.15 of tables and nothing elsewhere.
        label_column: CSV column holding labels; "auto" (the default) takes a column named label,
            class, target or y (any case, at most 100 distinct values, not fractional numbers) and says
            so in the log; None: no labels.
        labels_key: npz key holding labels.
        column_types: ``{column: numeric | categorical | binary | drop}`` overriding the detected kind
            of table columns (see :mod:`vaekit.tabular.columns`).
        missing: "error" (a missing table cell is an error naming it) or "mask" (missing cells are
            allowed, marked by one indicator per column and left out of the likelihood).
        modes: mode-specific normalization of numeric table columns (TVAE): at most this many
            Bayesian-mixture modes per column; 0 standardizes them instead.
        classes: keep only examples with these labels, in every split (one-class anomaly training:
            ``[0]`` trains on zeros only); None keeps all. Applied after the validation split, so an
            example is in the same split with or without it.
        perturb: fraction of training input values replaced by uniform noise, one fixed seeded draw
            (background models for likelihood ratios, Ren et al. 2019, Sec. 3.1); 0 disables.
        labelled: keep this many training labels, balanced over the classes (seeded by ``seed``), and
            hide the others (label -1, ``UNLABELLED``) for semi-supervised models (m2, m1m2);
            validation and test data keep theirs. None keeps every label.
    """

    spec: str = "digits"
    binarize: str = "none"
    standardize: bool | None = None
    val_fraction: float = 0.1
    seed: int = 0
    image_size: list | None = None
    grayscale: bool | None = None
    test_fraction: float | None = None
    label_column: str | None = "auto"
    labels_key: str | None = None
    classes: list[int] | None = None
    perturb: float = 0.0
    column_types: dict | None = None
    missing: str = "error"
    modes: int = 0
    labelled: int | None = None

    def __post_init__(self) -> None:
        if self.binarize not in BINARIZE_MODES:
            raise ConfigError(f"data.binarize must be one of {', '.join(BINARIZE_MODES)}, got {self.binarize!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must lie in [0, 1), got {self.val_fraction}")
        if self.binarize != "none" and self.standardize:
            raise ConfigError("data.binarize and data.standardize cannot both be set")
        if self.classes is not None and not self.classes:
            raise ConfigError("data.classes must name at least one class (or be null for all)")
        if any(c < 0 for c in self.classes or []):
            raise ConfigError(f"data.classes are labels 0..K-1 (-1 marks an unlabelled example), got {self.classes}")
        if self.labelled is not None and self.labelled < 1:
            raise ConfigError(f"data.labelled must be at least 1 (or null for every label), got {self.labelled}")
        if not 0.0 <= self.perturb <= 1.0:
            raise ConfigError(f"data.perturb must lie in [0, 1], got {self.perturb}")
        if self.test_fraction is not None and not 0.0 <= self.test_fraction < 1.0:
            raise ConfigError(f"data.test_fraction must lie in [0, 1), got {self.test_fraction}")
        if (self.test_fraction or 0.0) + self.val_fraction >= 1.0:
            raise ConfigError("data.test_fraction + data.val_fraction must stay below 1")
        self._check_table_options()
        check_seed(self.seed, "data.seed")
        if self.image_size is not None:
            self._check_image_size()

    def _check_image_size(self) -> None:
        size = self.image_size
        if not (len(size) == 2 and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)):
            raise ConfigError(f"data.image_size must be [height, width] in pixels, got {size}")
        if size[0] * size[1] > MAX_IMAGE_SIZE_PIXELS:
            raise ConfigError(f"data.image_size {size[0]}x{size[1]} has {size[0] * size[1]:,} pixels; "
                              f"at most {MAX_IMAGE_SIZE_PIXELS:,} (e.g. 2048x2048) are allowed")

    def _check_table_options(self) -> None:
        from ..tabular.codec import MISSING_MODES
        from ..tabular.columns import COLUMN_TYPES

        if self.missing not in MISSING_MODES:
            raise ConfigError(f"data.missing must be one of {', '.join(MISSING_MODES)}, got {self.missing!r}")
        bad = {k: v for k, v in (self.column_types or {}).items() if v not in COLUMN_TYPES}
        if bad:
            key = next(iter(bad))
            raise ConfigError(f"data.column_types.{key} must be one of {', '.join(COLUMN_TYPES)}, got {bad[key]!r}")
        if self.modes < 0 or self.modes == 1:
            raise ConfigError(f"data.modes must be 0 (off) or at least 2, got {self.modes}")

    @property
    def source(self) -> tuple[str, str | None]:
        name, _, arg = self.spec.partition(":")
        return name, (arg or None)


def load_source(cfg: DataConfig) -> SourceData:
    """Read the raw splits of ``cfg.spec`` from its registered source."""
    from . import sources  # noqa: F401  (registers the built-in sources)

    name, arg = cfg.source
    return SOURCES.get(name)(arg, cfg)


def keep_classes(ds: Dataset | None, classes: list[int] | None) -> Dataset | None:
    """The examples of ``ds`` whose label is in ``classes`` (``ds`` itself when ``classes`` is None)."""
    if ds is None or classes is None:
        return ds
    if ds.y is None:
        raise DataError(f"{ds.name}: data.classes needs labelled data")
    keep = torch.isin(ds.y, torch.tensor(classes)).nonzero().squeeze(1)  # (M,)
    if len(keep) == 0:
        raise DataError(f"{ds.name}: no examples of classes {classes}")
    return ds.subset(keep)


def align_classes(*splits: Dataset | None) -> None:
    """Give every labelled split the largest ``n_classes`` among them (a test split may lack a class)."""
    labelled = [ds for ds in splits if ds is not None and ds.y is not None]
    n_classes = max((ds.n_classes for ds in labelled), default=None)
    for ds in labelled:
        ds.n_classes = n_classes


def load_data(cfg: DataConfig, columns=None) -> tuple[Splits, Preprocessor]:
    """Load, split and prepare data.

    Args:
        columns: for table data, the fitted columns to encode with (a run's ``Run.columns``, so new
            data is read with the run's categories and statistics); None fits them on the training rows.
    Returns:
        The train/val/test splits (val/test binarized once with a fixed seed for dynamic
        binarization; train/val/test binarized once for static) and the per-batch preprocessor.
    """
    return prepare(load_source(cfg), cfg, columns)


def prepare(src: SourceData, cfg: DataConfig, columns=None) -> tuple[Splits, Preprocessor]:
    """Split, encode (tables) and prepare what a source read; see :func:`load_data`."""
    from .tables import TABLE_TEST_FRACTION, encode_splits

    train, val, test = src.train, src.val, src.test
    align_classes(train, val, test)
    test_fraction = cfg.test_fraction if cfg.test_fraction is not None else \
        TABLE_TEST_FRACTION if src.table is not None else 0.0
    if test is None and test_fraction > 0:
        train, test = split_off_test(train, test_fraction, cfg.seed)
    if val is None and cfg.val_fraction > 0:
        train, val = split_off_validation(train, cfg.val_fraction, cfg.seed)
    train, val, test = (keep_classes(ds, cfg.classes) for ds in (train, val, test))
    if src.table is not None:
        (train, val, test), columns = encode_splits(src, cfg, columns, (train, val, test))
    elif columns is not None:
        raise DataError(f"{train.name}: the model was trained on a table; give table data (csv:FILE)")
    if cfg.labelled is not None:
        train = keep_labels(train, cfg.labelled, cfg.seed + 4)
    if cfg.perturb > 0:
        train = perturb_once(train, cfg.perturb, cfg.seed + 3)
    if cfg.binarize == "static":
        train = binarize_once(train, cfg.seed)
    if cfg.binarize != "none":  # evaluation data: one fixed sample, so numbers are stable
        val = None if val is None else binarize_once(val, cfg.seed + 1)
        test = None if test is None else binarize_once(test, cfg.seed + 2)
    mean = std = None
    if src.table is None and _standardize(cfg, src, train):  # tables are encoded standardized
        mean, std = fit_standardizer(train)
    pre = Preprocessor(max_value=train.max_value, binarize=cfg.binarize, mean=mean, std=std)
    return Splits(train=train, val=val, test=test, likelihood=src.likelihood, columns=columns,
                  extra=dict(src.extra)), pre


def _standardize(cfg: DataConfig, src: SourceData, train: Dataset) -> bool:
    """``data.standardize``; when unset, on for tabular sources and for vectors outside [0, 1]."""
    if cfg.standardize is not None:
        return cfg.standardize
    if cfg.binarize != "none":
        return False
    if src.standardize:
        return True
    lo, hi = value_range(train)
    outside = train.x.is_floating_point() and not train.is_image and (lo < 0 or hi > 1)
    if outside:
        log.info("%s: values lie in [%.4g, %.4g], outside [0, 1]: standardizing each feature "
                 "(set data.standardize to choose)", train.name, lo, hi)
    return outside


__all__ = [
    "SOURCES", "UNLABELLED", "DataConfig", "Dataset", "DataError", "LabelledBatches", "Preprocessor", "SourceData",
    "Splits", "batch_indices", "keep_classes", "keep_labels", "load_data", "load_source", "n_batches", "prepare",
]
