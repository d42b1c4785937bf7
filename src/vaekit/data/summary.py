"""Plain-dict summaries of datasets (what ``vaekit data inspect`` prints)."""

from __future__ import annotations

import torch

from .dataset import Dataset, Splits


def summarize(ds: Dataset) -> dict:
    """Count, example shape, stored dtype, value range, scale and label counts of one dataset.

    Returns:
        ``{"count", "shape", "dtype", "min", "max", "max_value", "n_classes", "label_counts", "n_unlabelled"}``;
        ``label_counts[k]`` is the number of examples with label k (None when unlabelled), ``n_unlabelled``
        the number whose label is hidden (-1; None without labels).
    """
    counts = hidden = None
    if ds.y is not None:
        counts = torch.bincount(ds.y[ds.y >= 0], minlength=ds.n_classes or 0).tolist()
        hidden = int((ds.y < 0).sum())
    return {"count": len(ds), "shape": list(ds.sample_shape), "dtype": str(ds.x.dtype).removeprefix("torch."),
            "min": float(ds.x.min()), "max": float(ds.x.max()), "max_value": ds.max_value,
            "n_classes": ds.n_classes, "label_counts": counts, "n_unlabelled": hidden}


def describe(splits: Splits) -> dict[str, dict]:
    """:func:`summarize` of each available split, keyed ``train``, ``val``, ``test``."""
    return {name: summarize(ds) for name in ("train", "val", "test") if (ds := getattr(splits, name)) is not None}
