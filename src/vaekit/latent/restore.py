"""Restoration with a trained VAE: denoising (decode the encoding of a corrupted input) and
inpainting by iterative conditional sampling (Rezende et al. 2014, Appendix F).

Inpainting fills the hidden pixels of ``x`` and then repeats T times: encode the current image,
decode, and copy the decoder's values into the hidden pixels only, the observed ones staying as they
are. In ``mode="gibbs"`` each step draws z ~ q(z | x_t) and x ~ p(x | z), the pseudo-Gibbs chain of
Rezende et al. (which approaches p(x_hidden | x_observed) when q is close to the true posterior); in
``mode="mean"`` it takes the posterior mean and the decoder mean, a deterministic fixed-point
iteration that gives the chain's typical completion without its pixel noise.
"""

from __future__ import annotations

from typing import Iterator

import torch

from ..device import evaluating
from ..errors import ConfigError
from ..models import VAE

MODES = ("mean", "gibbs")
FILLS = ("zero", "noise")


@torch.no_grad()
def restore(model: VAE, x_in: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """The restored image: E[x | z = mu(x_in)], the decoder mean of the encoding of ``x_in (B, *shape)``."""
    with evaluating(model):
        return model.reconstruct(x_in, y)


def initial_fill(x: torch.Tensor, mask: torch.Tensor, fill: str = "zero",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` with the hidden pixels (``mask`` True, broadcastable) set to 0 or to uniform noise in [0, 1]."""
    if fill == "zero":
        values = torch.zeros_like(x)
    elif fill == "noise":
        values = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    else:
        raise ConfigError(f"inpainting fill must be one of {', '.join(FILLS)}, got {fill!r}")
    return torch.where(mask, values, x)


def _step(model: VAE, x_t: torch.Tensor, y: torch.Tensor | None, mode: str) -> torch.Tensor:
    """One proposal for every pixel from the current image ``x_t``."""
    if mode == "mean":
        return model.reconstruct(x_t, y)
    z = model.encode(x_t, y).rsample()  # (B, Z) z ~ q(z | x_t)
    return model.decode(z, y).sample()  # x ~ p(x | z)


@torch.no_grad()
def inpaint_iterates(model: VAE, x: torch.Tensor, mask: torch.Tensor, steps: int = 20,
                     y: torch.Tensor | None = None, mode: str = "mean", fill: str = "zero",
                     generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """The iterates x_0 .. x_T of inpainting (x_0 is the filled input), each ``x``'s shape.

    Args:
        x: ``(B, *shape)`` images; only the pixels where ``mask`` is False are read.
        mask: bool, broadcastable to ``x``, True where hidden (e.g. :func:`vaekit.data.corrupt.inpainting_mask`).
        steps: T, the encode-decode rounds.
        mode: "mean" (posterior and decoder means) or "gibbs" (z ~ q(z | x_t), x ~ p(x | z)).
        fill: the start of the hidden pixels, "zero" or "noise" (seeded by ``generator``).
    """
    if mode not in MODES:
        raise ConfigError(f"inpainting mode must be one of {', '.join(MODES)}, got {mode!r}")
    if steps < 0:
        raise ConfigError(f"inpainting steps must be non-negative, got {steps}")
    x_t = initial_fill(x, mask, fill, generator)
    yield x_t
    with evaluating(model):
        for _ in range(steps):
            x_t = torch.where(mask, _step(model, x_t, y, mode), x)  # observed pixels: always x's own
            yield x_t


def inpaint(model: VAE, x: torch.Tensor, mask: torch.Tensor, steps: int = 20, y: torch.Tensor | None = None,
            mode: str = "mean", fill: str = "zero", generator: torch.Generator | None = None) -> torch.Tensor:
    """The last iterate x_T of :func:`inpaint_iterates` (same arguments): ``x``'s shape."""
    for x_t in inpaint_iterates(model, x, mask, steps, y, mode, fill, generator):
        pass
    return x_t
