"""Pictures: padded image grids (grayscale or RGB), vector panels, loss curves.

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

from .io import write_bytes

#: Grid cells are upscaled (nearest neighbour) until they are at least this many pixels tall.
MIN_CELL = 48


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_uint8_images(x: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` floats in [0, 1] -> ``(N, H, W, C)`` uint8 (values clamped)."""
    x = x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def image_grid(x: torch.Tensor, nrow: int = 8, pad: int = 2, pad_value: int = 255,
               min_cell: int = MIN_CELL) -> Image.Image:
    """Tile images ``(N, C, H, W)`` in [0, 1] into a padded grid, ``nrow`` per row.

    Single-channel images give a grayscale ("L") picture, three channels an RGB one.
    Small images are upscaled by an integer factor so a cell is at least ``min_cell`` pixels tall.
    """
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


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    _figure().close(fig)
    write_bytes(path, buf.getvalue())
    return Path(path)


def vector_panel(rows: Sequence[torch.Tensor], labels: Sequence[str], title: str):
    """Heat-map panel of flat vectors: one block of rows per entry of ``rows`` (each ``(N, D)``)."""
    plt = _figure()
    fig, axes = plt.subplots(len(rows), 1, figsize=(8, 1.2 + 0.35 * sum(len(r) for r in rows)), squeeze=False)
    lo = min(float(r.min()) for r in rows)
    hi = max(float(r.max()) for r in rows)
    for ax, r, label in zip(axes[:, 0], rows, labels):
        im = ax.imshow(r.reshape(len(r), -1).cpu().numpy(), aspect="auto", cmap="viridis", vmin=lo, vmax=hi)
        ax.set_ylabel(label)
        ax.set_xlabel("feature")
    fig.colorbar(im, ax=axes[:, 0].tolist(), label="value")
    fig.suptitle(title)
    return fig


def loss_figure(history: list[dict], title: str = "Training curves"):
    """Train/validation negative ELBO per epoch (nats per example), labelled axes."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    epochs = [row["epoch"] for row in history]
    ax.plot(epochs, [row["train_nelbo"] for row in history], label="train -ELBO")
    if history and "val_nelbo" in history[0]:
        ax.plot(epochs, [row["val_nelbo"] for row in history], label="validation -ELBO")
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative ELBO (nats per example)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
