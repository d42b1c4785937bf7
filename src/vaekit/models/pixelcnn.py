"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

An autoregressive network over a ``(C, H, W)`` grid in raster order: the output at position (i, j)
depends only on the inputs at positions before it, (i', j') with i' < i, or i' = i and j' < j (all
channels of a position are predicted together). Each gated layer has two stacks (Sec. 2.2, Fig. 2):

* the vertical stack, a k x k convolution masked to rows <= the centre row, sees every row up to the
  current one; it reaches the horizontal stack only shifted down by one row, so position (i, j)
  receives rows < i from it;
* the horizontal stack, a 1 x k convolution masked to columns < the centre in the first layer
  (mask "A") and <= the centre after it (mask "B"), sees the current row left of j; it has a residual
  connection after the first layer.

Both stacks use the gated activation tanh(a) * sigmoid(b) (Eq. 2), and an optional conditioning map
``(B, Cc, H, W)`` is added to both gates' inputs through 1 x 1 convolutions (Eq. 4-5, here a spatial
map, e.g. decoded from a latent z). Two stacks remove the plain PixelCNN's blind spot.

Used by the PixelCNN decoder (:mod:`.pixelcnn_vae`) and the VQ-VAE code prior (:mod:`.vq_vae`).
Sampling (:func:`raster_sample`) takes H x W passes; each pass runs on the band of rows the current
output can read (``context_rows`` above it), which gives the same outputs at a fraction of the cost.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


class MaskedConv2d(nn.Conv2d):
    """A same-padded 2-D convolution whose kernel is multiplied by a fixed 0/1 mask ``(kh, kw)``."""

    def __init__(self, c_in: int, c_out: int, mask: torch.Tensor) -> None:
        kh, kw = mask.shape
        super().__init__(c_in, c_out, (kh, kw), padding=(kh // 2, kw // 2))
        self.register_buffer("mask", mask.float()[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


def vertical_mask(k: int) -> torch.Tensor:
    """k x k: rows up to and including the centre row, every column."""
    mask = torch.zeros(k, k)
    mask[: k // 2 + 1] = 1
    return mask


def horizontal_mask(k: int, include_centre: bool) -> torch.Tensor:
    """1 x k: columns left of the centre, and the centre itself when ``include_centre`` (mask B)."""
    mask = torch.zeros(1, k)
    mask[0, : k // 2 + int(include_centre)] = 1
    return mask


def gate(t: torch.Tensor) -> torch.Tensor:
    """tanh(a) * sigmoid(b) for the two channel halves of ``t`` (Eq. 2)."""
    a, b = t.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def shift_down(t: torch.Tensor) -> torch.Tensor:
    """Move a ``(B, C, H, W)`` map one row down (zeros enter at the top)."""
    return F.pad(t, (0, 0, 1, 0))[:, :, :-1]


class GatedLayer(nn.Module):
    """One layer of both stacks; ``first`` uses mask A in the horizontal stack and no residual.

    ``vertical=False`` leaves the vertical stack out (grids of one row have nothing above).
    """

    def __init__(self, c_in: int, channels: int, kernel: int, first: bool, cond_channels: int,
                 vertical: bool = True) -> None:
        super().__init__()
        self.first = first
        self.h = MaskedConv2d(c_in, 2 * channels, horizontal_mask(kernel, include_centre=not first))
        self.h_out = nn.Conv2d(channels, channels, 1)
        self.v = MaskedConv2d(c_in, 2 * channels, vertical_mask(kernel)) if vertical else None
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1) if vertical else None
        self.cond = nn.Conv2d(cond_channels, (4 if vertical else 2) * channels, 1) if cond_channels else None

    def forward(self, v: torch.Tensor | None, h: torch.Tensor,
                cond: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor]:
        h_pre = self.h(h)  # (B, 2c, H, W)
        cv = ch = None
        if self.cond is not None:
            c = self.cond(cond)  # (B, 4c or 2c, H, W)
            cv, ch = c.chunk(2, dim=1) if self.v is not None else (None, c)
        v_pre = None
        if self.v is not None:
            v_pre = self.v(v)  # (B, 2c, H, W)
            h_pre = h_pre + self.v_to_h(shift_down(v_pre))
            v_pre = v_pre if cv is None else v_pre + cv
        h_pre = h_pre if ch is None else h_pre + ch
        h_new = self.h_out(gate(h_pre))
        return None if v_pre is None else gate(v_pre), h_new if self.first else h + h_new


class GatedPixelCNN(nn.Module):
    """``x (B, C_in, H, W)`` [+ ``cond (B, Cc, H, W)``] -> ``(B, C_out, H, W)``, causal in raster order.

    Args:
        c_in, c_out: input and output channels.
        channels: channels of each stack. n_layers: gated layers (at least 1).
        kernel: odd kernel size k >= 3. cond_channels: channels of the conditioning map (0: none).
        vertical: with the vertical stack (False for grids of one row).
    """

    def __init__(self, c_in: int, c_out: int, channels: int = 32, n_layers: int = 3, kernel: int = 3,
                 cond_channels: int = 0, vertical: bool = True) -> None:
        super().__init__()
        self.kernel = kernel
        self.layers = nn.ModuleList(GatedLayer(c_in if i == 0 else channels, channels, kernel, i == 0,
                                               cond_channels, vertical) for i in range(n_layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(),
                                  nn.Conv2d(channels, c_out, 1))

    @property
    def context_rows(self) -> int:
        """Rows above its own that an output reads: (k // 2) per layer through the vertical stack, plus
        the one-row shift into the horizontal stack."""
        return len(self.layers) * (self.kernel // 2) + 1

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h, cond)
        return self.head(h)


def raster_sample(draw: Callable[[torch.Tensor, int, int, int], torch.Tensor], x: torch.Tensor,
                  context_rows: int | None = None) -> torch.Tensor:
    """Fill ``x (B, C, H, W)`` in place, position by position in raster order.

    ``draw(rows, top, i, j)`` gets the grid's rows ``top..i``, ``(B, C, i - top + 1, W)``, and returns the
    values ``(B, C)`` of position (i, j). A causal network's outputs on row i depend on rows
    ``i - context_rows .. i`` only (:attr:`GatedPixelCNN.context_rows`), so the rows outside that band
    are left out: the same outputs at a fraction of the cost (None: every row from the top). Returns ``x``.
    """
    _, _, height, width = x.shape
    for i in range(height):
        top = 0 if context_rows is None else max(0, i - context_rows)
        for j in range(width):
            x[:, :, i, j] = draw(x[:, :, top: i + 1], top, i, j)
    return x
