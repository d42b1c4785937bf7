"""Posterior embeddings of a dataset (saved as .npz and .csv) and 2-D projections of them."""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data import Dataset, Preprocessor, batch_indices
from ..device import device_of
from ..errors import ConfigError
from ..io import write_bytes, write_text
from ..models import VAE
from ..progress import format_seconds, task

log = logging.getLogger(__name__)
PROJECTIONS = ("pca", "tsne", "umap")


@dataclass
class Embedding:
    """Posterior parameters of a set of examples.

    Attributes:
        mu: ``(N, Z)`` posterior means E_q[z | x] (``q.mean``: the flow of the base mean for a flow
            posterior, the code vectors for VQ-VAE).
        logvar: ``(N, Z)`` posterior log-variances, or None when q(z | x) is not a diagonal Gaussian.
        y: ``(N,)`` labels, or None.
        index: ``(N,)`` positions of the examples in their dataset.
    """

    mu: torch.Tensor
    logvar: torch.Tensor | None
    y: torch.Tensor | None
    index: torch.Tensor


@torch.no_grad()
def embed(model: VAE, ds: Dataset, pre: Preprocessor, batch_size: int = 1000,
          index: torch.Tensor | None = None) -> Embedding:
    """Encode ``ds`` (or the examples at ``index``) in batches; tensors are returned on the CPU."""
    device = device_of(model)
    index = torch.arange(len(ds)) if index is None else index.long().cpu()
    mus, logvars = [], []
    with task(len(index), "encoding", "example") as bar:
        for batch in batch_indices(len(index), batch_size, shuffle=False):
            idx = index[batch]
            y = None if ds.y is None else ds.y[idx].to(device)
            q = model.encode(pre(ds.x[idx].to(device)), y)
            mus.append(q.mean.cpu())
            if model.capabilities.gaussian_posterior:
                logvars.append(q.logvar.cpu())
            bar.update(len(idx))
    y = None if ds.y is None else ds.y[index].cpu()
    return Embedding(mu=torch.cat(mus), logvar=torch.cat(logvars) if logvars else None, y=y, index=index)


def save_embedding(emb: Embedding, path: str | Path) -> tuple[Path, Path]:
    """Write ``PATH.npz`` (arrays ``mu``, ``logvar``, ``index`` and ``labels`` when labelled, -1 unlabelled) and
    ``PATH.csv`` (columns ``index, label, mu_0.., logvar_0..``; the label empty where unlabelled; no
    log-variances for non-Gaussian posteriors);
    ``path``'s suffix is replaced. Returns both paths."""
    path = Path(path)
    npz, table = path.with_suffix(".npz"), path.with_suffix(".csv")
    arrays = {"mu": emb.mu.numpy(), "index": emb.index.numpy()}
    if emb.logvar is not None:
        arrays["logvar"] = emb.logvar.numpy()
    if emb.y is not None:
        arrays["labels"] = emb.y.numpy()
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes(npz, buf.getvalue())
    write_text(table, _csv_text(emb))
    return npz, table


def _csv_text(emb: Embedding) -> str:
    z = emb.mu.shape[1]
    z_var = 0 if emb.logvar is None else z
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["index", "label", *(f"mu_{j}" for j in range(z)), *(f"logvar_{j}" for j in range(z_var))])
    labels = [""] * len(emb.index) if emb.y is None else [v if v >= 0 else "" for v in emb.y.tolist()]
    logvars = [[]] * len(emb.index) if emb.logvar is None else emb.logvar.tolist()
    for i, label, mu, logvar in zip(emb.index.tolist(), labels, emb.mu.tolist(), logvars):
        writer.writerow([i, label, *(f"{v:.6g}" for v in mu), *(f"{v:.6g}" for v in logvar)])
    return out.getvalue()


@dataclass
class Projection:
    """2-D coordinates of embeddings.

    Attributes:
        points: ``(N, 2)`` coordinates.
        method: "pca", "tsne" or "umap".
        axis_labels: names of the two axes (PCA includes the explained variance).
    """

    points: np.ndarray
    method: str
    axis_labels: tuple[str, str]


def project(mu: torch.Tensor, method: str = "pca", seed: int = 0) -> Projection:
    """Project ``mu (N, Z)`` to 2-D by PCA (default), t-SNE (van der Maaten & Hinton 2008) or UMAP.

    UMAP needs the optional ``umap-learn`` package. Returns a :class:`Projection` of ``(N, 2)`` points.
    """
    if method not in PROJECTIONS:
        raise ConfigError(f"projection must be one of {', '.join(PROJECTIONS)}, got {method!r}")
    x = mu.detach().double().cpu().numpy()
    if x.shape[1] < 2 or x.shape[0] < 3:
        raise ConfigError(f"a 2-D projection needs >= 3 examples and >= 2 latent dimensions, got {x.shape}")
    if method == "pca":
        return _pca(x)
    fit = _tsne if method == "tsne" else _umap()  # a missing umap-learn fails before any work
    t0 = time.perf_counter()
    log.info("%s of %d points in %d dimensions (runs without progress until done)", method, *x.shape)
    out = fit(x, seed)
    log.info("%s done in %s", method, format_seconds(time.perf_counter() - t0))
    return out


def _tsne(x: np.ndarray, seed: int) -> Projection:
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (x.shape[0] - 1) / 3)
    points = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    return Projection(points, "tsne", ("t-SNE 1", "t-SNE 2"))


def _pca(x: np.ndarray) -> Projection:
    """Principal components by SVD of the centred data."""
    centred = x - x.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    ratio = s ** 2 / max(float((s ** 2).sum()), 1e-300)
    points = centred @ vt[:2].T  # (N, 2)
    return Projection(points, "pca", (f"PC 1 ({100 * ratio[0]:.0f}% of variance)",
                                      f"PC 2 ({100 * ratio[1]:.0f}% of variance)"))


def _umap():
    """UMAP's fit function (ConfigError when umap-learn is not installed)."""
    try:
        import umap
    except ImportError:
        raise ConfigError("UMAP needs the optional package umap-learn (pip install umap-learn); "
                          "use pca or tsne instead") from None

    def fit(x: np.ndarray, seed: int) -> Projection:
        points = umap.UMAP(n_components=2, random_state=seed).fit_transform(x)
        return Projection(np.asarray(points), "umap", ("UMAP 1", "UMAP 2"))
    return fit
