"""Detection metrics and thresholds for anomaly scores (numpy; higher score = more anomalous).

Labels are 1 for anomalous, 0 for normal. Tied scores are grouped into one threshold, as scikit-learn
does, so a tie between a normal and an anomalous example counts one half in the AUROC.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError, DataError


def _as_binary(y, s) -> tuple[np.ndarray, np.ndarray]:
    y, s = np.asarray(y).astype(bool).ravel(), np.asarray(s, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise DataError(f"{len(y)} labels for {len(s)} scores")
    if y.all() or not y.any():
        raise DataError("detection metrics need both normal (0) and anomalous (1) examples")
    if not np.isfinite(s).all():
        raise DataError("anomaly scores contain NaN or inf")
    return y, s


def _curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives when flagging ``s >= t``, one entry per distinct ``t``, descending."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s) - 1]  # last index of each tie group
    tp = np.cumsum(y_sorted)[last]
    return tp, last + 1 - tp


def auroc(y, s) -> float:
    """Area under the ROC curve (trapezoids; a tie between classes counts one half).

    Args:
        y: ``(N,)`` 1 = anomalous, 0 = normal.
        s: ``(N,)`` scores, higher = more anomalous.
    """
    y, s = _as_binary(y, s)
    tp, fp = _curve(y, s)
    tpr, fpr = np.r_[0, tp] / tp[-1], np.r_[0, fp] / fp[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def auprc(y, s) -> float:
    """Area under the precision-recall curve as average precision, sum_n (R_n - R_{n-1}) P_n."""
    y, s = _as_binary(y, s)
    tp, fp = _curve(y, s)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0, recall]) * tp / (tp + fp)))


def fpr_at_tpr(y, s, tpr: float = 0.95) -> float:
    """False-positive rate at the first threshold whose true-positive rate reaches ``tpr``."""
    y, s = _as_binary(y, s)
    tp, fp = _curve(y, s)
    first = int(np.argmax(tp / tp[-1] >= tpr))
    return float(fp[first] / fp[-1])


def detection_metrics(y, s) -> dict[str, float]:
    """``auroc``, ``auprc`` (anomalies positive) and ``fpr95`` (FPR at 95% TPR) of scores ``s``."""
    return {"auroc": auroc(y, s), "auprc": auprc(y, s), "fpr95": fpr_at_tpr(y, s, 0.95)}


def validation_threshold(scores, quantile: float = 0.95) -> float:
    """Threshold t from normal validation scores: flag ``score > t``.

    t is the smallest validation score with at most ``floor((1 - quantile) * n)`` scores above it,
    so at most a ``1 - quantile`` fraction of the validation data is flagged (ties never push it over).
    """
    if not 0.0 < quantile <= 1.0:
        raise ConfigError(f"quantile must lie in (0, 1], got {quantile}")
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    if len(s) == 0:
        raise DataError("no validation scores to pick a threshold from")
    allowed = int(math.floor((1.0 - quantile) * len(s) + 1e-9))
    return float(s[len(s) - allowed - 1]) if allowed < len(s) else -math.inf
