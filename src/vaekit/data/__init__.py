"""Data sources, splits and preprocessing. ``load_data(DataConfig)`` is the entry point."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from ..errors import ConfigError, DataError
from ..registry import Registry
from .dataset import Dataset, SourceData, Splits, batch_indices, n_batches, split_off_validation
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
        label_column: CSV column holding labels (None: no labels).
        labels_key: npz key holding labels.
        classes: keep only examples with these labels, in every split (one-class anomaly training:
            ``[0]`` trains on zeros only); None keeps all. Applied after the validation split, so an
            example is in the same split with or without it.
        perturb: fraction of training input values replaced by uniform noise, one fixed seeded draw
            (background models for likelihood ratios, Ren et al. 2019, Sec. 3.1); 0 disables.
    """

    spec: str = "digits"
    binarize: str = "none"
    standardize: bool | None = None
    val_fraction: float = 0.1
    seed: int = 0
    image_size: list | None = None
    grayscale: bool | None = None
    label_column: str | None = None
    labels_key: str | None = None
    classes: list[int] | None = None
    perturb: float = 0.0

    def __post_init__(self) -> None:
        if self.binarize not in BINARIZE_MODES:
            raise ConfigError(f"data.binarize must be one of {', '.join(BINARIZE_MODES)}, got {self.binarize!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must lie in [0, 1), got {self.val_fraction}")
        if self.binarize != "none" and self.standardize:
            raise ConfigError("data.binarize and data.standardize cannot both be set")
        if self.classes is not None and not self.classes:
            raise ConfigError("data.classes must name at least one class (or be null for all)")
        if not 0.0 <= self.perturb <= 1.0:
            raise ConfigError(f"data.perturb must lie in [0, 1], got {self.perturb}")
        if self.image_size is not None and not (
                len(self.image_size) == 2 and all(isinstance(s, int) and s > 0 for s in self.image_size)):
            raise ConfigError(f"data.image_size must be [height, width] in pixels, got {self.image_size}")

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


def load_data(cfg: DataConfig) -> tuple[Splits, Preprocessor]:
    """Load, split and prepare data.

    Returns:
        The train/val/test splits (val/test binarized once with a fixed seed for dynamic
        binarization; train/val/test binarized once for static) and the per-batch preprocessor.
    """
    src = load_source(cfg)
    train, val, test = src.train, src.val, src.test
    align_classes(train, val, test)
    if val is None and cfg.val_fraction > 0:
        train, val = split_off_validation(train, cfg.val_fraction, cfg.seed)
    train, val, test = (keep_classes(ds, cfg.classes) for ds in (train, val, test))
    if cfg.perturb > 0:
        train = perturb_once(train, cfg.perturb, cfg.seed + 3)
    if cfg.binarize == "static":
        train = binarize_once(train, cfg.seed)
    if cfg.binarize != "none":  # evaluation data: one fixed sample, so numbers are stable
        val = None if val is None else binarize_once(val, cfg.seed + 1)
        test = None if test is None else binarize_once(test, cfg.seed + 2)
    mean = std = None
    if _standardize(cfg, src, train):
        mean, std = fit_standardizer(train)
    pre = Preprocessor(max_value=train.max_value, binarize=cfg.binarize, mean=mean, std=std)
    return Splits(train=train, val=val, test=test, likelihood=src.likelihood, extra=dict(src.extra)), pre


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
    "SOURCES", "DataConfig", "Dataset", "DataError", "Preprocessor", "SourceData", "Splits",
    "batch_indices", "keep_classes", "load_data", "load_source", "n_batches",
]
