"""The honest anomaly-detection protocol: the threshold is picked on normal validation examples the
model never trained on, and the test sets are held out.

The metrics (AUROC, AUPRC, FPR at 95% TPR) and the validation threshold are in
:mod:`vaekit.evaluate.detection`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import torch

from ...data import DataConfig, Dataset, binarize_once, keep_classes, load_data
from ...errors import DataError
from ..detection import detection_metrics, validation_threshold

log = logging.getLogger(__name__)


@dataclass
class DetectionSets:
    """The three sets of an honest evaluation.

    Attributes:
        val: normal validation examples (never trained on): the threshold is picked here.
        normal: normal test examples.
        anomalous: anomalous test examples.
    """

    val: Dataset
    normal: Dataset
    anomalous: Dataset


def validation_data(cfg: DataConfig, classes: list[int] | None = None, columns=None) -> Dataset:
    """The validation split of a run's data config (restricted to ``classes`` when given).

    An example is in this split whatever ``data.classes`` the run used, so it was never trained on.
    ``columns`` are the run's table columns (``Run.columns``) for table data.
    """
    cfg = replace(cfg, perturb=0.0, classes=classes or cfg.classes)
    splits, _ = load_data(cfg, columns)
    if splits.val is None:
        raise DataError(f"{cfg.spec}: the run has no validation split to pick a threshold on "
                        "(it was trained with data.val_fraction 0)")
    return splits.val


def evaluation_data(cfg: DataConfig, spec: str | None = None, columns=None, overrides: dict | None = None) -> Dataset:
    """The examples of ``spec`` to score: its test split when it has one, else all of its examples.

    Args:
        cfg: the run's data config; supplies the reading options (CSV label column, image size...).
        spec: the data to score (default: the run's own, which then needs a test split).
        columns: the run's table columns (``Run.columns``): tables are encoded as the run's were.
        overrides: data options for ``spec`` (``{"label_column": "cls"}``), as ``train`` takes them.
    Binarized runs get a fixed binarization, as their own evaluation data does.
    """
    own = spec is None or spec == cfg.spec
    held_out = {} if own else {"test_fraction": 0.0}  # other data: every example (or its own test split)
    cfg = replace(cfg, spec=spec or cfg.spec, classes=None, perturb=0.0, val_fraction=0.0,
                  **{**held_out, **(overrides or {})})
    splits, _ = load_data(cfg, columns)
    if splits.test is not None:
        return splits.test
    if own:
        raise DataError(f"{cfg.spec}: no test split, and the rest was used for training and validation; "
                        "give held-out data")
    return binarize_once(splits.train, cfg.seed + 2) if cfg.binarize == "dynamic" else splits.train


def one_class_sets(cfg: DataConfig, normal_classes: list[int], spec: str | None = None, columns=None,
                   overrides: dict | None = None) -> DetectionSets:
    """One-class protocol on labelled data: ``normal_classes`` are normal, every other class anomalous;
    unlabelled test examples (label -1) are neither, so they are left out (the log says how many).

    Args:
        cfg: the run's data config: the threshold is picked on its validation split, restricted to
            the normal classes (the examples a run trained with ``data.classes`` validated on).
        normal_classes: labels of the normal examples.
        spec: the labelled data to test on (see :func:`evaluation_data`); default the run's own.
        columns, overrides: as for :func:`evaluation_data`.
    """
    test = evaluation_data(cfg, spec, columns, overrides)
    if test.y is None:
        raise DataError(f"{test.name}: the one-class protocol needs labelled data")
    if not bool((test.y >= 0).all()):
        log.info("%s: %d unlabelled test examples (-1) left out: they are neither normal nor anomalous",
                 test.name, int((test.y < 0).sum()))
        test = test.labelled()
    is_normal = torch.isin(test.y, torch.tensor(normal_classes))  # (N,)
    if is_normal.all() or not is_normal.any():
        raise DataError(f"{test.name}: classes {normal_classes} leave no normal or no anomalous test examples")
    return DetectionSets(val=validation_data(cfg, normal_classes, columns),
                         normal=test.subset(is_normal.nonzero().squeeze(1)),
                         anomalous=test.subset((~is_normal).nonzero().squeeze(1)))


def two_source_sets(cfg: DataConfig, anomalous_spec: str, normal_spec: str | None = None, columns=None,
                    overrides: dict | None = None) -> DetectionSets:
    """Anomalous test examples from one source, normal ones from another (default: the run's own test
    split, restricted to its ``data.classes``); the threshold uses the run's validation split.
    ``columns``, ``overrides``: as for :func:`evaluation_data` (the overrides apply to both specs)."""
    normal = evaluation_data(cfg, normal_spec, columns, overrides) if normal_spec else \
        keep_classes(evaluation_data(cfg, columns=columns), cfg.classes)
    return DetectionSets(val=validation_data(cfg, columns=columns), normal=normal,
                         anomalous=evaluation_data(cfg, anomalous_spec, columns, overrides))


def evaluate_scores(val: dict[str, np.ndarray], normal: dict[str, np.ndarray], anomalous: dict[str, np.ndarray],
                    quantile: float = 0.95) -> dict[str, dict[str, float]]:
    """Detection metrics and the validation threshold of each score.

    Args:
        val, normal, anomalous: ``{score: (N,) array}`` for the three sets.
        quantile: the threshold is this quantile of the validation scores (target FPR ``1 - quantile``).
    Returns ``{score: {auroc, auprc, fpr95, threshold, val_fpr, test_fpr, test_tpr}}``.
    """
    results = {}
    for name in normal:
        y = np.r_[np.zeros(len(normal[name])), np.ones(len(anomalous[name]))]
        row = detection_metrics(y, np.r_[normal[name], anomalous[name]])
        t = validation_threshold(val[name], quantile)
        row.update(threshold=t, val_fpr=float(np.mean(val[name] > t)),
                   test_fpr=float(np.mean(normal[name] > t)), test_tpr=float(np.mean(anomalous[name] > t)))
        results[name] = row
    return results
