"""Anomaly results for people: score histograms and per-example CSV."""

from __future__ import annotations

import numpy as np
import torch

from ...viz import panel_grid


def histogram_figure(normal: dict[str, np.ndarray], anomalous: dict[str, np.ndarray],
                     thresholds: dict[str, float] | None = None):
    """One panel per score: normal vs anomalous score histograms, with the threshold as a line.

    The x range is the 0.5-99.5 percentile range of both sets, so a few extreme scores do not
    squeeze the rest into one bin.
    """
    names = list(normal)
    fig, axes = panel_grid(len(names), 3, (4.2, 3.2))
    for ax, name in zip(axes, names):
        both = np.r_[normal[name], anomalous[name]]
        lo, hi = np.percentile(both, [0.5, 99.5])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 50)
        ax.hist(np.clip(normal[name], lo, hi), bins, density=True, alpha=0.6, label="normal")
        ax.hist(np.clip(anomalous[name], lo, hi), bins, density=True, alpha=0.6, label="anomalous")
        if thresholds and np.isfinite(thresholds.get(name, np.nan)):
            ax.axvline(thresholds[name], color="k", linestyle="--", label="threshold")
        ax.set_xlabel(f"{name} score ({'squared error' if name == 'recon' else 'nats'})")
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
    fig.suptitle("Anomaly scores: normal vs anomalous test examples")
    fig.tight_layout()
    return fig


def scores_csv(scores: dict[str, np.ndarray], y: torch.Tensor | None = None) -> str:
    """CSV text: ``index,label,<score>...``, one row per example (label empty when unknown)."""
    names = list(scores)
    n = len(scores[names[0]])
    labels = [""] * n if y is None else [str(int(v)) for v in y.tolist()]
    rows = [",".join(["index", "label", *names])]
    rows += [",".join([str(i), labels[i], *(repr(float(scores[k][i])) for k in names)]) for i in range(n)]
    return "\n".join(rows) + "\n"
