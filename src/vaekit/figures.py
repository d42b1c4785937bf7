"""The standard pictures of a run: reconstructions, prior samples, loss curves."""

from __future__ import annotations

from pathlib import Path

import torch

from .data import Dataset, Preprocessor
from .models import VAE
from .viz import image_grid, loss_figure, save_figure, save_image, vector_panel


def to_display(x: torch.Tensor, pre: Preprocessor) -> torch.Tensor:
    """Model-space values -> data space (undo standardization) for display."""
    return pre.invert(x)


@torch.no_grad()
def reconstruction_figure(model: VAE, ds: Dataset, pre: Preprocessor, path: Path, n: int = 16) -> Path:
    """Originals (top rows) above their reconstructions E[x | mu(x)] (bottom rows)."""
    device = next(model.parameters()).device
    n = min(n, len(ds))
    x = pre(ds.x[:n].to(device))
    y = None if ds.y is None else ds.y[:n].to(device)
    x_hat = model.reconstruct(x, y)
    x, x_hat = to_display(x, pre), to_display(x_hat, pre)
    if x.dim() == 4:
        nrow = 8 if n >= 8 else n
        return save_image(image_grid(torch.cat([x, x_hat]), nrow=nrow), path)
    return save_figure(vector_panel([x, x_hat], ["original", "reconstruction"], "Reconstructions"), path)


@torch.no_grad()
def samples_figure(model: VAE, pre: Preprocessor, path: Path, n: int = 64, y: torch.Tensor | None = None,
                   temperature: float = 1.0, mean: bool = True) -> Path:
    """Decoder means (or draws) of ``n`` prior samples as an 8-wide grid."""
    if model.conditional and y is None:
        device = next(model.parameters()).device
        y = torch.arange(n, device=device) % model.n_classes
    x = to_display(model.sample(n, y=y, temperature=temperature, mean=mean), pre)
    if x.dim() == 4:
        return save_image(image_grid(x, nrow=8), path)
    return save_figure(vector_panel([x], ["sample"], "Prior samples"), path)


def write_run_figures(model: VAE, ds: Dataset, pre: Preprocessor, history: list[dict], folder: Path) -> list[Path]:
    """``reconstructions.png``, ``samples.png`` and ``loss.png`` in ``folder``."""
    was_training = model.training
    model.eval()
    paths = [reconstruction_figure(model, ds, pre, folder / "reconstructions.png"),
             samples_figure(model, pre, folder / "samples.png"),
             save_figure(loss_figure(history), folder / "loss.png")]
    model.train(was_training)
    return paths
