"""Denoising and inpainting of a run's images: the results, their PSNR/SSIM tables and their grids.

``denoise`` corrupts clean examples (each corruption pipeline in turn, seeded), restores them with the
decoder mean of the encoding of the corrupted input, and scores restored vs clean beside corrupted vs
clean. ``inpaint_examples`` hides a region (box, half, random pixels) and fills it by pseudo-Gibbs
iterations (:func:`vaekit.latent.inpaint_iterates`), scoring the hidden region after every step.
``vaekit denoise`` and ``vaekit inpaint`` are these functions plus the figures and a printed table.
Values are compared on the model's [0, 1] input scale (PSNR with peak 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from . import latent
from .data import Preprocessor
from .data.corrupt import Corruption, check_corruptions, corrupt, inpainting_mask
from .device import device_of
from .evaluate.image_quality import masked_psnr, quality
from .figures import grid_figure
from .models import VAE


def pipeline_name(corruptions: Sequence[Corruption]) -> str:
    """``box:0.5+gaussian:0.2``: the spec of a corruption pipeline."""
    return "+".join(map(str, corruptions))


@dataclass
class Denoising:
    """Clean examples, and per corruption pipeline the corrupted and restored ones (model space).

    Attributes:
        clean: ``(N, *shape)``.
        names: one spec per pipeline (``gaussian:0.3``).
        corrupted, restored: one ``(N, *shape)`` tensor per pipeline.
        table: one row per pipeline: ``corruption``, ``n``, ``psnr_corrupted``, ``psnr_restored``,
            ``ssim_corrupted``, ``ssim_restored`` (means over the N examples; SSIM None for flat data).
    """

    clean: torch.Tensor
    names: list[str] = field(default_factory=list)
    corrupted: list[torch.Tensor] = field(default_factory=list)
    restored: list[torch.Tensor] = field(default_factory=list)
    table: list[dict] = field(default_factory=list)


def denoise(model: VAE, x: torch.Tensor, y: torch.Tensor | None, pipelines: Sequence[Sequence[Corruption]],
            standardized: bool = False, seed: int = 0) -> Denoising:
    """Corrupt ``x (N, *shape)`` with each pipeline, restore, and score both against ``x``.

    Args:
        pipelines: corruption pipelines, each applied in order to the clean ``x``.
        standardized: whether the model's inputs are standardized (refused: no [0, 1] scale).
        seed: seeds the corruption draws (one generator on the model's device, pipelines in order).
    """
    g = torch.Generator(device=device_of(model)).manual_seed(seed)
    out = Denoising(clean=x)
    for pipeline in pipelines:
        check_corruptions(pipeline, tuple(x.shape[1:]), standardized)
        x_tilde = corrupt(x, pipeline, g)
        x_hat = latent.restore(model, x_tilde, y)
        before, after = quality(x_tilde, x), quality(x_hat, x)
        out.names.append(pipeline_name(pipeline))
        out.corrupted.append(x_tilde)
        out.restored.append(x_hat)
        out.table.append({"corruption": out.names[-1], "n": len(x), "psnr_corrupted": before["psnr"],
                          "psnr_restored": after["psnr"], "ssim_corrupted": before["ssim"],
                          "ssim_restored": after["ssim"]})
    return out


def denoising_figure(result: Denoising, pre: Preprocessor, n: int = 8):
    """The first ``n`` examples: the clean row, then a corrupted and a restored row per pipeline."""
    rows = [result.clean[:n]]
    labels = ["clean"]
    for name, x_tilde, x_hat, row in zip(result.names, result.corrupted, result.restored, result.table):
        rows += [x_tilde[:n], x_hat[:n]]
        labels += [f"{name} ({row['psnr_corrupted']:.1f} dB)", f"restored ({row['psnr_restored']:.1f} dB)"]
    return grid_figure(torch.stack(rows), pre, "Denoising: clean, corrupted, restored E[x | z = mu(x~)]", labels,
                       xlabel="mean PSNR vs clean over every scored example in brackets")


@dataclass
class Inpainting:
    """Inpainting of a batch: the clean images, the hidden region, the start and the result.

    Attributes:
        clean: ``(N, *shape)``; mask: bool, broadcastable to it, True where hidden.
        start: x_0, the hidden pixels filled; filled: x_T.
        psnr: mean PSNR over the hidden pixels after each step 0 .. T (``T + 1`` floats).
        table: ``mask``, ``steps``, ``mode``, ``n``, ``psnr_start``, ``psnr_filled`` (hidden pixels),
            and the whole images' ``psnr``/``ssim`` of the result.
    """

    clean: torch.Tensor
    mask: torch.Tensor
    start: torch.Tensor
    filled: torch.Tensor
    psnr: list[float]
    table: dict


def inpaint_examples(model: VAE, x: torch.Tensor, y: torch.Tensor | None, mask: str = "box",
                     param: float | None = None, steps: int = 20, mode: str = "mean", fill: str = "zero",
                     seed: int = 0) -> Inpainting:
    """Hide a region of ``x (N, *shape)`` (:func:`~vaekit.data.corrupt.inpainting_mask`) and fill it.

    Args:
        mask, param: the mask kind (box, half, random) and its size or fraction.
        steps, mode, fill: see :func:`vaekit.latent.inpaint_iterates`.
        seed: seeds the mask, the initial noise and the draws of ``mode="gibbs"``.
    """
    g = torch.Generator(device=device_of(model)).manual_seed(seed)
    hidden = inpainting_mask(x, mask, param, g)
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(seed)
        iterates = latent.inpaint_iterates(model, x, hidden, steps, y, mode, fill, g)
        start = next(iterates)
        psnr, x_t = [float(masked_psnr(start, x, hidden).nanmean())], start
        for x_t in iterates:
            psnr.append(float(masked_psnr(x_t, x, hidden).nanmean()))
    whole = quality(x_t, x)
    table = {"mask": mask if param is None else f"{mask}:{param:g}", "steps": steps, "mode": mode, "n": len(x),
             "psnr_start": psnr[0], "psnr_filled": psnr[-1], "psnr": whole["psnr"], "ssim": whole["ssim"]}
    return Inpainting(x, hidden, start, x_t, psnr, table)


#: The colour marking hidden pixels, and how strongly it tints the filled ones.
MARK, TINT = torch.tensor([0.9, 0.1, 0.1]), 0.35


def marked(x: torch.Tensor, mask: torch.Tensor, alpha: float) -> torch.Tensor:
    """RGB copies of images ``x (N, C, H, W)`` in [0, 1] with the hidden pixels blended towards :data:`MARK`."""
    rgb = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x[:, :3]
    colour = MARK.to(x.device, x.dtype)[None, :, None, None]
    return torch.where(mask, (1 - alpha) * rgb + alpha * colour, rgb)


def inpainting_figure(result: Inpainting, pre: Preprocessor, n: int = 8):
    """Rows of ``n`` images: clean, the input with the hidden region in red, and the inpainted images
    with the filled region tinted red. Flat vectors: clean, start and result as vector blocks."""
    clean, start, filled = result.clean[:n], result.start[:n], result.filled[:n]
    t = result.table
    title = f"Inpainting ({t['mask']}, {t['steps']} {t['mode']} steps)"
    labels = ["clean", "hidden region", f"inpainted ({t['psnr_filled']:.1f} dB in the region)"]
    if clean.dim() != 4 or pre.mean is not None:
        return grid_figure(torch.stack([clean, start, filled]), pre, title, labels)
    mask = result.mask[:n].expand(-1, 1, -1, -1) if result.mask.dim() == 4 else result.mask[:n]
    rows = torch.stack([marked(clean, torch.zeros_like(mask), 0.0), marked(clean, mask, 1.0),
                        marked(filled, mask, TINT)])
    return grid_figure(rows, Preprocessor(), title, labels)
