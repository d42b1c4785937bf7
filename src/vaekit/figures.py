"""Pictures of a model: reconstructions, samples, interpolations, traversals, arithmetic, projections.

Each ``*_figure`` function returns a labelled matplotlib figure (save it with :func:`save`). Model
outputs are mapped back to data space (``Preprocessor.invert``) for display; images become padded
grayscale or RGB grids, flat vectors (tabular data) become heat-map panels in raw units with the
column names. :class:`Names` carries the data's class and column names (``Names.of(run.info)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from . import latent
from .data import Dataset, Preprocessor
from .device import device_of, evaluating
from .errors import ConfigError
from .evaluate.disentangle_run import DisentanglementResult
from .latent.embed import Projection
from .models import VAE
from .run import Run
from .viz import (bar_figure, check_grid, gif_bytes, image_grid, labelled_grid, loss_figure, save_figure,
                  scatter_figure, vector_panel)

save = save_figure


@dataclass(frozen=True)
class Names:
    """What the data calls its classes and columns (``run.json``'s ``class_names`` and ``columns``),
    and for tables how encoded rows read in the columns' own units (``units``: ``(N, W) -> (N, W)``)."""

    classes: tuple[str, ...] | None = None
    columns: tuple[str, ...] | None = None
    units: Callable[[torch.Tensor], torch.Tensor] | None = None

    @classmethod
    def of(cls, info: dict, codec=None) -> "Names":
        """The names recorded in a run's ``run.json`` (``run.info``); with the run's table ``codec``
        (``run.columns``) the encoded positions' names and units."""
        classes = info.get("class_names")
        columns = codec.positions() if codec is not None else info.get("columns")
        return cls(tuple(map(str, classes)) if classes else None, tuple(map(str, columns)) if columns else None,
                   None if codec is None else codec.to_units)

    def label(self, k: int) -> str:
        """The name of class ``k`` (its number when unnamed)."""
        return self.classes[k] if self.classes and 0 <= k < len(self.classes) else str(k)


NO_NAMES = Names()


def to_display(x: torch.Tensor, pre: Preprocessor) -> torch.Tensor:
    """Model-space values -> data space (undo standardization) for display."""
    return pre.invert(x)


def grid_figure(x: torch.Tensor, pre: Preprocessor, title: str, row_labels: Sequence[str] = (),
                col_labels: Sequence[str] = (), xlabel: str = "", ylabel: str = "", names: Names = NO_NAMES):
    """Show ``x (R, C, *shape)`` (model space) as a labelled image grid, or as a vector panel for flat data.

    In a vector panel each of the R rows is a block of C vectors, in column order, in data units
    (standardization undone), its x axis labelled with ``names.columns``.
    """
    r, c = x.shape[:2]
    flat = x.reshape(r * c, *x.shape[2:])
    shown = (names.units(flat) if names.units is not None else to_display(flat, pre)).reshape(x.shape)
    if x.dim() == 5:
        return labelled_grid(shown, title, row_labels, col_labels, xlabel, ylabel)
    blocks = [shown[i].reshape(c, -1) for i in range(r)]
    note = f" (rows in a block: {col_labels[0]} .. {col_labels[-1]})" if col_labels and c > 1 else ""
    units = "value (data units)" if pre.mean is not None or names.units is not None else "value"
    return vector_panel(blocks, list(row_labels) or [""] * r, title + note, columns=names.columns, units=units)


def _rows(x: torch.Tensor, ncol: int) -> torch.Tensor:
    """``(N, *shape) -> (R, ncol, *shape)`` for images (blank white cells fill the last row); vectors stay one block."""
    if x.dim() != 4:
        return x[None]
    r = math.ceil(len(x) / ncol)
    blank = torch.ones(r * ncol - len(x), *x.shape[1:], device=x.device, dtype=x.dtype)
    return torch.cat([x, blank]).reshape(r, ncol, *x.shape[1:])


def reconstruction_figure(model: VAE, x: torch.Tensor, y: torch.Tensor | None, pre: Preprocessor,
                          ncol: int = 8, title: str = "Reconstructions E[x | z = mu(x)]", names: Names = NO_NAMES):
    """Originals above their reconstructions, in pairs of rows of ``ncol`` items."""
    x_hat = latent.reconstruct(model, x, y)
    if x.dim() != 4:
        return grid_figure(torch.stack([x, x_hat]), pre, title, ["original", "reconstruction"], names=names)
    ncol = min(ncol, len(x))
    pairs = torch.stack([_rows(x, ncol), _rows(x_hat, ncol)], dim=1)  # (R, 2, ncol, *shape)
    labels = [name for _ in range(len(pairs)) for name in ("original", "reconstruction")]
    return grid_figure(pairs.flatten(0, 1), pre, title, labels)


def samples_figure(model: VAE, pre: Preprocessor, n: int = 64, label: int | None = None,
                   temperature: float = 1.0, mean: bool = True, ncol: int = 8, names: Names = NO_NAMES,
                   prior=None, prior_name: str | None = None):
    """``n`` prior samples (decoder means by default, or random draws) in rows of ``ncol``.

    A model with classes (conditional or semi-supervised) without ``label`` gets one labelled row per
    class, ceil(n / classes) samples each. The grid's size is checked (images) before anything is
    decoded. ``prior`` replaces the model's own p(z) (e.g. a post-hoc density,
    :func:`vaekit.posthoc.fit_aggregate_prior`; ``prior_name`` then names it in the title).
    """
    per_class = latent.generates_by_class(model) and label is None
    if len(model.sample_shape) == 3:
        per = math.ceil(n / model.n_classes) if per_class else min(ncol, n)
        check_grid(per * model.n_classes if per_class else n, per, *model.sample_shape[1:])
    what = "decoder means E[x|z]" if mean else "draws x ~ p(x|z)"
    source = prior_name or model.prior_name
    if per_class:
        per = math.ceil(n / model.n_classes)
        x = torch.stack([latent.sample(model, per, k, temperature, mean, prior) for k in range(model.n_classes)])
        return grid_figure(x, pre, f"Samples per class, z from {source} ({what}, temperature {temperature:g})",
                           [names.label(k) for k in range(model.n_classes)], ylabel="class", names=names)
    x = latent.sample(model, n, label=label, temperature=temperature, mean=mean, prior=prior)
    cond = f", class {names.label(label)}" if label is not None else ""
    return grid_figure(_rows(x, min(ncol, n)), pre,
                       f"{n} samples, z from {source} ({what}, temperature {temperature:g}{cond})", names=names)


def interpolation_figure(model: VAE, x0: torch.Tensor, x1: torch.Tensor, pre: Preprocessor, steps: int = 10,
                         methods: Sequence[str] = latent.INTERPOLATIONS, y: torch.Tensor | None = None,
                         names: Names = NO_NAMES):
    """One row per method: input A, the decoded path t = 0..1, input B."""
    rows = [torch.cat([x0[None], latent.interpolate(model, x0, x1, steps, m, y), x1[None]]) for m in methods]
    ts = [f"{t:.2f}" for t in torch.linspace(0, 1, steps).tolist()]
    return grid_figure(torch.stack(rows), pre, f"Interpolation between the posterior means of A and B ({steps} steps)",
                       list(methods), ["A", *ts, "B"], xlabel="t (0 = A, 1 = B)", names=names)


def interpolation_gif(model: VAE, x0: torch.Tensor, x1: torch.Tensor, pre: Preprocessor, steps: int = 10,
                      method: str = "slerp", y: torch.Tensor | None = None, duration_ms: int = 120) -> bytes:
    """Animated GIF of the decoded path from A to B and back (images only)."""
    if x0.dim() != 3:
        raise ConfigError("an animated GIF needs image data; these examples are flat vectors")
    path = to_display(latent.interpolate(model, x0, x1, steps, method, y), pre)  # (S, C, H, W)
    frames = [image_grid(x[None], nrow=1, min_cell=96) for x in path]
    return gif_bytes(frames + frames[-2:0:-1], duration_ms)


def traversal_figure(model: VAE, x: torch.Tensor, y: torch.Tensor | None, pre: Preprocessor,
                     centre: tuple[torch.Tensor, torch.Tensor | None] | None = None, span: float = 3.0,
                     steps: int = 9, include_inactive: bool = False, max_dims: int | None = None,
                     label: int | None = None, centre_name: str = "the chosen item", names: Names = NO_NAMES):
    """Each latent dimension swept over [-span, span] prior standard deviations, rows ordered by use.

    Use is the mean KL over ``x`` where the rate factorizes per dimension, else the variance of the
    posterior means (:func:`_use`); values are m_j + v * s_j with the prior's mean m and standard
    deviation s per dimension (v from -span to span; plain values for N(0, I)).

    Args:
        x, y: a batch (model space) to measure each dimension's use on.
        centre: ``(x_c, y_c)``, one input ``(*shape)`` and its label (or None) whose posterior mean is
            the centre of the sweeps; None centres them on the prior mean.
        include_inactive: also show inactive dimensions (see :func:`vaekit.models.usage.active_units`).
        max_dims: show at most this many dimensions (the most used ones).
        label: label of the decoded images for models with classes (default: the centre's, or 0).
        names: class names (models with classes) and column names (tabular data).
    """
    m, s = latent.prior_scale(model)  # ConfigError for models without a continuous latent
    use, name = _use(model, x, y)  # (Z,)
    active = None if include_inactive or len(x) < 2 else latent.active_units(model.encode(x, y).mean)["active"]
    dims = latent.kl_order(use, active)[:max_dims]
    if len(dims) == 0:
        dims = latent.kl_order(use)[:1]  # posterior collapse: still show the top dimension
    z0, yc = _centre(model, centre, label)
    v = torch.linspace(-span, span, steps)
    values = m[dims, None] + s[dims, None] * v.to(s)  # (R, C)
    out = latent.traverse(model, z0, dims, values, yc)
    hidden = model.latent_dim - len(dims)
    where = f"the prior mean ({model.prior_name})" if centre is None else f"the posterior mean of {centre_name}"
    note = f"; {hidden} inactive or less used dimensions hidden" if hidden else ""
    cond = "" if yc is None else f", class {names.label(int(yc.reshape(-1)[0]))}"
    unit = "" if _standard(m, s) else " prior s.d."
    return grid_figure(out, pre, f"Latent traversals around {where} (ordered by {name}{note}{cond})",
                       [f"z{int(d)} ({name} {float(use[d]):.3f})" for d in dims],
                       [f"{t:+.1f}{unit}" for t in v.tolist()],
                       xlabel="value of the swept dimension", ylabel=f"dimension ({name})", names=names)


def _use(model: VAE, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, str]:
    """How much each latent dimension is used over ``x``: ``((Z,), name)``. The mean KL per dimension
    (nats) where the rate factorizes, else the variance of the posterior means, Var_x E_q[z_j]."""
    if model.capabilities.kl_per_dim:
        return latent.kl_per_dim(model, x, y), "KL"
    mu = latent.posterior_mean(model, x, y)  # (B, Z)
    return (mu.var(0) if len(mu) > 1 else torch.zeros_like(mu[0])), "Var mu"


def _standard(m: torch.Tensor, s: torch.Tensor) -> bool:
    """Whether prior means ``m`` and standard deviations ``s`` are those of N(0, I)."""
    return bool((m == 0).all() and (s == 1).all())


def _centre(model: VAE, centre, label: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The sweeps' centre ``(Z,)`` and the label ``(1,)`` to decode with (None for models without classes)."""
    if centre is None:
        return latent.prior_scale(model)[0], latent.labels_for(model, 1, label)
    xc, yc = centre
    yc = None if yc is None else yc.reshape(1)
    z0 = latent.posterior_mean(model, xc[None], yc)[0]
    own = latent.generates_by_class(model) and label is None and yc is not None and int(yc) >= 0
    return z0, yc if own else latent.labels_for(model, 1, label)


def manifold_figure(model: VAE, pre: Preprocessor, n: int = 15, label: int | None = None,
                    names: Names = NO_NAMES):
    """The decoded n x n grid of Gaussian quantiles of a 2-D latent space (Kingma & Welling 2014, Fig. 4),
    placed by the prior's mean and standard deviation (:func:`latent.manifold`)."""
    y = latent.labels_for(model, 1, label)  # class 0 by default
    x = latent.manifold(model, n, y=y)
    m, s = latent.prior_scale(model)
    q = latent.manifold_values(n)
    cols, rows = [[f"{t:+.1f}" for t in (m[j] + s[j] * q.to(s)).tolist()] for j in (0, 1)]
    cond = "" if y is None else f", class {names.label(int(y))}"
    where = "Gaussian quantiles 5%..95%" if _standard(m, s) else \
        f"Gaussian quantiles 5%..95% scaled to the prior's mean and s.d., {model.prior_name}"
    return grid_figure(x, pre, f"Learned 2-D manifold (z at {where}{cond})", rows[::-1], cols,
                       xlabel="z0", ylabel="z1", names=names)


def arithmetic_figure(model: VAE, x: torch.Tensor, y: torch.Tensor | None, vector: torch.Tensor,
                      pre: Preprocessor, a: int, b: int, scales: Sequence[float] = (1.0,),
                      items: Sequence[int] | None = None, names: Names = NO_NAMES):
    """Inputs, their reconstructions (before) and decodings of mu(x) + s * v(a - b) (after), per column.

    ``items`` names the columns (e.g. the inputs' dataset positions); with labels ``y`` each column
    also shows its item's class.
    """
    out = latent.arithmetic(model, x, vector, (0.0, *scales), y)  # (1 + S, B, *shape)
    labels = ["input", "before: mu(x)", *(f"after: mu(x) {s:+g}·v" for s in scales)]
    items = [str(i) for i in (items if items is not None else range(len(x)))]
    if y is not None:
        items = [f"{i}\n({names.label(int(k))})" for i, k in zip(items, y.tolist())]
    return grid_figure(torch.cat([x[None], out]), pre,
                       f"Latent arithmetic: v = mean mu({names.label(a)}) - mean mu({names.label(b)})", labels,
                       items, xlabel="item (class)" if y is not None else "item", names=names)


def analogy_figure(model: VAE, x: torch.Tensor, y: torch.Tensor | None, pre: Preprocessor,
                   items: Sequence[int] | None = None, names: Names = NO_NAMES):
    """Kingma et al. 2014, Fig. 1b: each row an input (left) and its style, E[z | x, y], decoded with every class.

    The grid's size is checked (images) before anything is decoded."""
    if x.dim() == 4:
        check_grid(len(x) * (1 + model.n_classes), 1 + model.n_classes, *x.shape[2:])
    out = latent.analogies(model, x, y)  # (B, C, *shape)
    grid = torch.cat([x[:, None], out], 1)  # (B, 1 + C, *shape)
    rows = [str(i) for i in (items if items is not None else range(len(x)))]
    cols = ["input", *(names.label(c) for c in range(out.shape[1]))]
    return grid_figure(grid, pre, "Analogies: the style of each input (z inferred from it), the class varied",
                       rows, cols, xlabel="class decoded with", ylabel="input item", names=names)


def projection_figure(proj: Projection, y: torch.Tensor | None, title: str | None = None, names: Names = NO_NAMES):
    """Scatter of a 2-D projection of posterior means, coloured by class with a legend of class names."""
    methods = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
    labels = None if y is None else y.cpu().numpy()
    title = title or f"{methods[proj.method]} of the posterior means ({len(proj.points)} examples)"
    return scatter_figure(proj.points, labels, title, *proj.axis_labels, class_names=names.classes)


def activity_figure(variance: Sequence[float], threshold: float):
    """Var_x E_q[z_u | x] per latent dimension on a log axis, the active-unit threshold dashed
    (Burda et al. 2015, Sec. 5.2); inactive dimensions in grey."""
    values = np.maximum(np.asarray(variance, dtype=float), 1e-12)
    fig = bar_figure(values, [str(j) for j in range(len(values))], "Active units: variance of the posterior mean",
                     "latent dimension", "Var over x of E[z_u | x]", values > threshold,
                     (f"active (> {threshold:g})", "inactive"))
    ax = fig.axes[0]
    ax.set_yscale("log")
    ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1)
    return fig


def kl_figure(kl: torch.Tensor, active: torch.Tensor | None = None):
    """Mean KL per latent dimension (nats); inactive dimensions (``active``, a ``(Z,)`` mask) in grey."""
    values = kl.detach().cpu().numpy()
    mask = None if active is None else active.cpu().numpy()
    return bar_figure(values, [str(j) for j in range(len(values))], "KL per latent dimension",
                      "latent dimension", "mean KL (nats)", mask,
                      (f"active (Var of posterior means > {latent.ACTIVE_THRESHOLD:g})", "inactive"))


def eval_batch(ds: Dataset, pre: Preprocessor, device, n: int | None = None):
    """The first ``n`` examples of ``ds`` (all when None) as model inputs and labels."""
    idx = torch.arange(len(ds) if n is None else min(n, len(ds)))
    return pre(ds.x[idx].to(device)), None if ds.y is None else ds.y[idx].to(device)


def factor_traversal_figure(run: Run, result: DisentanglementResult, span: float = 2.5, steps: int = 9):
    """Each latent dimension swept over [-span, span] around z = 0 (rows ordered by KL), each row
    labelled with the factor it captures best and that factor's normalized MI."""
    device = device_of(run.model)
    dims = torch.argsort(torch.from_numpy(result.kl), descending=True)
    values = torch.linspace(-span, span, steps)
    x = latent.traverse(run.model, torch.zeros(run.model.latent_dim, device=device), dims, values)
    rows = result.latent_factors()
    labels = [_row_label(rows[int(d)]) for d in dims]
    return grid_figure(x, run.preprocessor, "Latent traversals around z = 0 (rows by KL)", labels,
                       [f"{v:+.1f}" for v in values.tolist()], xlabel="value of the swept dimension",
                       ylabel="dimension: factor it captures best (normalized MI, KL nats)")


def _row_label(row: dict) -> str:
    factor = row["factor"] or "none"
    return f"z{row['dim']}: {factor} ({row['nmi']:.2f}, KL {row['kl']:.2f})"


def write_run_figures(model: VAE, ds: Dataset, pre: Preprocessor, history: list[dict], folder: Path,
                      names: Names = NO_NAMES) -> list[Path]:
    """``reconstructions.png``, ``samples.png`` and ``loss.png`` in ``folder``."""
    with evaluating(model) as device:
        x, y = eval_batch(ds, pre, device, 16)
        return [save(reconstruction_figure(model, x, y, pre, names=names), folder / "reconstructions.png"),
                save(samples_figure(model, pre, names=names), folder / "samples.png"),
                save(loss_figure(history), folder / "loss.png")]


__all__ = ["NO_NAMES", "Names", "activity_figure", "analogy_figure", "arithmetic_figure", "eval_batch",
           "factor_traversal_figure", "grid_figure", "interpolation_figure", "interpolation_gif", "kl_figure",
           "manifold_figure", "projection_figure", "reconstruction_figure", "samples_figure", "save",
           "to_display", "traversal_figure", "write_run_figures"]
