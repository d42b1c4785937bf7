"""Anomaly results for people: score histograms and per-example CSV."""

from __future__ import annotations

import numpy as np
import torch

from ...viz import panel_grid


def histogram_figure(normal: dict[str, np.ndarray], anomalous: dict[str, np.ndarray],
                     thresholds: dict[str, float] | None = None, aurocs: dict[str, float] | None = None):
    """One panel per score: normal vs anomalous score histograms, the threshold as a line, the AUROC
    in the panel's title.

    The x range is the 0.5-99.5 percentile range of both sets, so a few extreme scores do not
    squeeze the rest into one bin; the scores beyond it are counted in the outer bins, which are
    hatched, and the panel says how many of each set were clipped at each end.
    """
    names = list(normal)
    fig, axes = panel_grid(len(names), 3, (4.4, 3.4))
    fig.set_layout_engine("constrained")
    for ax, name in zip(axes, names):
        _score_panel(ax, name, normal[name], anomalous[name], (thresholds or {}).get(name), (aurocs or {}).get(name))
    fig.suptitle("Anomaly scores: normal vs anomalous test examples")
    return fig


def _score_panel(ax, name: str, normal: np.ndarray, anomalous: np.ndarray, threshold: float | None,
                 auroc: float | None) -> None:
    both = np.r_[normal, anomalous]
    lo, hi = np.percentile(both, [0.5, 99.5])
    hi = hi if hi > lo else lo + 1
    bins = np.linspace(lo, hi, 50)
    edges = []
    for values, label in ((normal, "normal"), (anomalous, "anomalous")):
        _, _, patches = ax.hist(np.clip(values, lo, hi), bins, density=True, alpha=0.6, label=label)
        edges += [p for p, clipped in ((patches[0], (values < lo).any()), (patches[-1], (values > hi).any())) if clipped]
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="k", linestyle="--", label="threshold")
    ax.legend(fontsize=8)
    for patch in edges:  # after the legend, whose keys stay plain
        patch.set_hatch("////")
    notes = [_clipped_note(normal, anomalous, lo, "<"), _clipped_note(normal, anomalous, hi, ">")]
    notes = [n for n in notes if n]
    unit = "squared error" if name == "recon" else "nats"
    ax.set_xlabel("\n".join([f"{name} score ({unit})", *(["clipped into the hatched bins:", *notes] if notes else [])]),
                  fontsize=8 if notes else None)
    ax.set_title(name + (f": AUROC {auroc:.3f}" if auroc is not None else ""), fontsize=10)
    ax.set_ylabel("density")


def _clipped_note(normal: np.ndarray, anomalous: np.ndarray, edge: float, op: str) -> str:
    """``"> 123: 2 normal, 7 anomalous"`` (empty when nothing was clipped at that end)."""
    beyond = (lambda v: v < edge) if op == "<" else (lambda v: v > edge)  # noqa: E731
    n, a = int(beyond(normal).sum()), int(beyond(anomalous).sum())
    return f"{op} {edge:.4g}: {n} normal, {a} anomalous" if n or a else ""


def scores_csv(scores: dict[str, np.ndarray], y: torch.Tensor | None = None) -> str:
    """CSV text: ``index,label,<score>...``, one row per example (label empty when unknown or -1)."""
    names = list(scores)
    n = len(scores[names[0]])
    labels = [""] * n if y is None else [str(v) if v >= 0 else "" for v in map(int, y.tolist())]
    rows = [",".join(["index", "label", *names])]
    rows += [",".join([str(i), labels[i], *(repr(float(scores[k][i])) for k in names)]) for i in range(n)]
    return "\n".join(rows) + "\n"
