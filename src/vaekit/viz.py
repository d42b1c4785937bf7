"""Pictures: padded image grids (grayscale or RGB) with labels, vector panels, scatter/bar plots, loss curves.

Everything writes PNGs atomically and uses matplotlib's non-interactive Agg backend.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from .errors import ConfigError
from .io import write_bytes
from .limits import MAX_GRID_PIXELS

#: Grid cells are upscaled (nearest neighbour) until they are at least this many pixels tall.
MIN_CELL = 48


def new_figure():
    """matplotlib.pyplot on the headless Agg backend (call it, then make a figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def panel_grid(n: int, max_cols: int, panel_size: tuple[float, float]):
    """A figure of ``n`` panels in rows of at most ``max_cols`` (``panel_size`` inches each), the unused
    cells of the last row hidden. Returns ``(figure, the n axes)``."""
    ncol = max(1, min(max_cols, n))
    nrow = max(1, -(-n // ncol))
    fig, axes = new_figure().subplots(nrow, ncol, figsize=(panel_size[0] * ncol, panel_size[1] * nrow), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, list(axes.ravel()[:n])


def to_uint8_images(x: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` floats in [0, 1] -> ``(N, H, W, C)`` uint8 (values clamped)."""
    x = x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def check_grid(n: int, nrow: int, h: int, w: int, pad: int = 2, min_cell: int = MIN_CELL) -> None:
    """ConfigError unless a grid of ``n`` ``h x w`` images, ``nrow`` per row, stays within
    :data:`~vaekit.limits.MAX_GRID_PIXELS` (call it before computing the images)."""
    scale = max(1, math.ceil(min_cell / h))
    ncol = max(1, min(nrow, n))
    height, width = pad + math.ceil(n / ncol) * (h * scale + pad), pad + ncol * (w * scale + pad)
    if height * width > MAX_GRID_PIXELS:
        raise ConfigError(f"a grid of {n:,} images of {h}x{w} would be {width:,}x{height:,} pixels, more than "
                          f"{MAX_GRID_PIXELS:,}; show fewer items")


def image_grid(x: torch.Tensor, nrow: int = 8, pad: int = 2, pad_value: int = 255,
               min_cell: int = MIN_CELL) -> Image.Image:
    """Tile images ``(N, C, H, W)`` in [0, 1] into a padded grid, ``nrow`` per row.

    Single-channel images give a grayscale ("L") picture, three channels an RGB one.
    Small images are upscaled by an integer factor so a cell is at least ``min_cell`` pixels tall.
    """
    check_grid(x.shape[0], nrow, x.shape[2], x.shape[3], pad, min_cell)
    imgs = to_uint8_images(x)
    n, h, w, c = imgs.shape
    if c not in (1, 3):
        imgs, c = imgs[..., :1], 1  # show the first channel of multi-channel data
    scale = max(1, math.ceil(min_cell / h))
    imgs = imgs.repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = h * scale, w * scale
    ncol = min(nrow, n)
    nrows = math.ceil(n / ncol)
    grid = np.full((pad + nrows * (h + pad), pad + ncol * (w + pad), c), pad_value, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top:top + h, left:left + w] = imgs[i]
    return Image.fromarray(grid[..., 0] if c == 1 else grid, "L" if c == 1 else "RGB")


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def save_image(img: Image.Image, path: str | Path) -> Path:
    write_bytes(path, png_bytes(img))
    return Path(path)


def figure_png(fig, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes (tight bounding box) and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    new_figure().close(fig)
    return buf.getvalue()


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    write_bytes(path, figure_png(fig, dpi))
    return Path(path)


def vector_panel(rows: Sequence[torch.Tensor], labels: Sequence[str], title: str, xlabel: str = "feature",
                 columns: Sequence[str] | None = None, units: str = "value"):
    """Heat map of flat vectors for tabular data: one labelled block of rows per entry of ``rows``.

    Args:
        rows: blocks, each ``(N_i, D)`` (or ``(N_i, *shape)``, flattened).
        labels: one label per block, shown at the block's centre on the y axis.
        columns: the D column names for the x axis (default: the feature numbers).
        units: the colour bar's label.
    """
    plt = new_figure()
    blocks = [r.detach().float().reshape(len(r), -1).cpu().numpy() for r in rows]
    data = np.concatenate(blocks)  # (sum N_i, D)
    width = data.shape[1]
    fig, ax = plt.subplots(figsize=(max(8.0, min(20.0, 0.3 * width)), min(14.0, 1.6 + 0.14 * len(data))))
    im = ax.imshow(data, aspect="auto", cmap="viridis", interpolation="nearest")
    edges = np.cumsum([len(b) for b in blocks])
    for edge in edges[:-1]:
        ax.axhline(edge - 0.5, color="white", linewidth=2)
    ax.set_yticks(edges - np.array([len(b) for b in blocks]) / 2 - 0.5, list(labels))
    if columns is not None and len(columns) == width:
        ax.set_xticks(np.arange(width), list(columns), rotation=90 if width > 8 else 0, fontsize=8)
        xlabel = "column"
    ax.set_xlabel(xlabel)
    fig.colorbar(im, ax=ax, label=units)
    ax.set_title(title)
    return fig


def labelled_grid(x: torch.Tensor, title: str = "", row_labels: Sequence[str] = (),
                  col_labels: Sequence[str] = (), xlabel: str = "", ylabel: str = "", pad: int = 2):
    """A padded image grid with a title, row/column tick labels and axis labels.

    Args:
        x: ``(R, C, ch, H, W)`` images in [0, 1]: R rows of C cells.
        row_labels, col_labels: one label per row / column (empty: no ticks).
    Returns a matplotlib figure (grayscale for one channel, RGB for three).
    """
    plt = new_figure()
    r, c = x.shape[:2]
    img = image_grid(x.reshape(r * c, *x.shape[2:]), nrow=c, pad=pad)
    pitch_y, pitch_x = (img.height - pad) / r, (img.width - pad) / c
    cell_in = 0.65 if x.shape[-2] <= 32 else 1.0
    fig, ax = plt.subplots(figsize=(max(2.5, c * cell_in), max(1.2, r * cell_in * pitch_y / pitch_x)))
    ax.imshow(np.asarray(img), cmap="gray" if img.mode == "L" else None, vmin=0, vmax=255,
              interpolation="nearest")
    centre = lambda pitch, n: pad + np.arange(n) * pitch + (pitch - pad) / 2 - 0.5  # noqa: E731
    ax.set_xticks(centre(pitch_x, c) if col_labels else [], list(col_labels), fontsize=8)
    ax.set_yticks(centre(pitch_y, r) if row_labels else [], list(row_labels), fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def scatter_figure(points: np.ndarray, labels: np.ndarray | None, title: str, xlabel: str, ylabel: str,
                   class_names: Sequence[str] | None = None):
    """2-D scatter coloured by integer label with a legend (one colour and no legend without labels).

    Args:
        points: ``(N, 2)`` coordinates.
        labels: ``(N,)`` integer labels or None; -1 (unlabelled) points are grey, named "unlabelled".
    """
    plt = new_figure()
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=8, alpha=0.7)
    else:
        if (labels < 0).any():  # unlabelled examples: behind the classes, no class colour
            ax.scatter(*points[labels < 0].T, s=8, alpha=0.4, color="tab:gray", label="unlabelled")
        classes = np.unique(labels[labels >= 0])
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for i, k in enumerate(classes):
            name = class_names[k] if class_names is not None and 0 <= k < len(class_names) else str(k)
            ax.scatter(*points[labels == k].T, s=8, alpha=0.75, color=cmap(i % cmap.N), label=name)
        ax.legend(title="class", markerscale=2.5, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def bar_figure(values: np.ndarray, tick_labels: Sequence[str], title: str, xlabel: str, ylabel: str,
               highlight: np.ndarray | None = None, legend: tuple[str, str] = ("", "")):
    """Bar chart of ``values``; bars where the bool mask ``highlight`` is False are grey, with a legend
    naming the two kinds (``legend``: highlighted, other)."""
    plt = new_figure()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.32 * len(values) + 1.5), 3.4))
    x = np.arange(len(values))
    on = np.ones(len(values), bool) if highlight is None else np.asarray(highlight, bool)
    for mask, color, label in ((on, "tab:blue", legend[0]), (~on, "tab:gray", legend[1])):
        if mask.any():  # a kind with no bars gets no legend entry
            ax.bar(x[mask], values[mask], color=color, label=label or None)
    ax.set_xticks(x, list(tick_labels), fontsize=7, rotation=90 if len(values) > 24 else 0)
    if highlight is not None and any(legend):  # beside the axes: it never hides a bar
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    return fig


def gif_bytes(frames: Sequence[Image.Image], duration_ms: int = 120) -> bytes:
    """An endlessly looping animated GIF of ``frames``."""
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=list(frames[1:]), duration=duration_ms, loop=0)
    return buf.getvalue()


#: The loss plot's panels: metrics-row term -> panel title.
LOSS_PANELS = (("nelbo", "negative ELBO = rate + distortion"), ("rate", "rate: KL(q(z|x) || p(z))"),
               ("distortion", "distortion: -log p(x|z)"))


def loss_figure(history: list[dict], title: str = "Training curves"):
    """Per-epoch train/validation means of the negative ELBO, the rate and the distortion, each on its
    own axis (nats per example; the rate is often 100x smaller than the distortion), integer epoch
    ticks; the KL weight on the rate panel when a schedule changes it."""
    from matplotlib.ticker import MaxNLocator

    plt = new_figure()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9), layout="constrained")
    epochs = [row["epoch"] for row in history]
    marker = "o" if len(epochs) <= 30 else None
    for ax, (term, name) in zip(axes, LOSS_PANELS):
        for split, style, label in (("train", "-", "train"), ("val", "--", "validation")):
            values = [row.get(f"{split}_{term}") for row in history]
            if history and all(v is not None for v in values):
                ax.plot(epochs, values, style, marker=marker, markersize=3, label=label)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats per example")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    weights = [row.get("kl_weight") for row in history]
    if len({w for w in weights if w is not None}) > 1:
        twin = axes[1].twinx()
        twin.plot(epochs, weights, ":", color="tab:gray", label="KL weight (right axis)")
        twin.set_ylabel("KL weight")
        twin.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    return fig
