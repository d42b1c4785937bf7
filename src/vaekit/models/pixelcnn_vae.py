"""A VAE with an autoregressive PixelCNN decoder (PixelVAE, Gulrajani et al. 2017; van den Oord et al. 2016).

    p(x | z) = prod_i p(x_i | x_<i, z)

in raster order over the example's grid (images ``(C, H, W)``; vectors ``(D,)`` as one row ``(1, 1, D)``;
sequences ``(C, L)`` as ``(C, 1, L)``); every factor is the configured likelihood (Bernoulli,
discretized logistic, ...) and the channels of one position are predicted together. The latent
enters as a conditioning map: the ordinary decoder body (``net``) maps z to ``cond_channels`` maps
of the example's shape, added to the gates of a :class:`~.pixelcnn.GatedPixelCNN` with a few layers.
A small receptive field (the default 3 layers of 3 x 3) leaves the global structure to z, which keeps
the posterior in use (Gulrajani et al. 2017, Sec. 3; Chen et al. 2017, "Variational Lossy
Autoencoder").

log p(x | z) is exact in one pass (teacher forcing), so training, the ELBO and the importance-sampled
NLL are the base class's. Sampling x ~ p(x | z) takes H x W passes (:func:`~.pixelcnn.raster_sample`).
E[x | z] has no closed form: the likelihood's ``mean`` is the sequence of conditional means
E[x_i | x_<i, z] along one ancestral draw of x (so reconstructions and sample grids show smooth
images, and vary with the random draw).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

from ..errors import ConfigError
from ..likelihoods import Likelihood
from ..nets import Decoder, Encoder
from .base import MODELS, VAE, ModelConfig
from .pixelcnn import GatedPixelCNN, raster_sample


@dataclass
class PixelCNNVAEConfig(ModelConfig):
    """PixelCNN decoder options (``net`` builds the encoder and the z -> conditioning-map decoder).

    Attributes:
        ar_channels: channels of each PixelCNN stack.
        ar_layers: gated layers (receptive field grows by ``ar_kernel // 2`` per layer).
        ar_kernel: odd kernel size (>= 3).
        cond_channels: conditioning maps decoded from z per data channel.
    """

    name: str = "pixelcnn_vae"
    ar_channels: int = 32
    ar_layers: int = 3
    ar_kernel: int = 3
    cond_channels: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.ar_channels, self.ar_layers, self.cond_channels) < 1:
            raise ConfigError("model.ar_channels, model.ar_layers and model.cond_channels must be at least 1")
        if self.ar_kernel < 3 or self.ar_kernel % 2 == 0:
            raise ConfigError(f"model.ar_kernel must be odd and at least 3, got {self.ar_kernel}")


def grid_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The ``(C, H, W)`` grid an example of ``shape`` is generated on: (D,) -> (1, 1, D), (C, L) -> (C, 1, L)."""
    if len(shape) == 1:
        return 1, 1, shape[0]
    if len(shape) == 2:
        return shape[0], 1, shape[1]
    return shape[0], shape[1], math.prod(shape[2:])


class AutoregressiveLikelihood:
    """p(x | z) = prod_i p(x_i | x_<i, z) for a batch of conditioning maps (the likelihood protocol).

    Args:
        model: the :class:`PixelCNNVAE` (its PixelCNN and per-position likelihood).
        cond: ``(B, Cc, H, W)`` conditioning maps decoded from z.
    """

    def __init__(self, model: "PixelCNNVAE", cond: torch.Tensor) -> None:
        self.model, self.cond = model, cond
        self.discrete = model.likelihood_cls.discrete

    def factors(self, x_grid: torch.Tensor, cond: torch.Tensor) -> Likelihood:
        """The per-position likelihoods given the grid ``x_grid (B, C, h, W)`` (rows 0..h-1)."""
        params = self.model.autoregressive(x_grid, cond)  # (B, P * C, h, W)
        b, c = x_grid.shape[:2]
        return self.model.likelihood_cls(params.view(b, -1, c, *x_grid.shape[2:]), self.model.likelihood_options)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """sum_i log p(x_i | x_<i, z) in one pass: ``x (B, *shape) -> (B,)``."""
        x_grid = x.reshape(x.shape[0], *grid_shape(x.shape[1:]))  # (B, C, H, W)
        return self.factors(x_grid, self.cond).log_prob(x_grid)

    def ancestral(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One draw x ~ p(x | z) and the conditional means along it, each ``(B, *shape)``."""
        b, shape = self.cond.shape[0], self.model.sample_shape
        x = torch.zeros(b, *grid_shape(shape), device=self.cond.device, dtype=self.cond.dtype)
        means = torch.zeros_like(x)

        def draw(rows: torch.Tensor, top: int, i: int, j: int) -> torch.Tensor:
            px = self.factors(rows, self.cond[:, :, top: i + 1])
            means[:, :, i, j] = px.mean[:, :, i - top, j]
            return px.sample()[:, :, i - top, j]

        with torch.no_grad():
            raster_sample(draw, x, self.model.autoregressive.context_rows)
        return x.reshape(b, *shape), means.reshape(b, *shape)

    def sample(self) -> torch.Tensor:
        """x ~ p(x | z): ``(B, *shape)`` (H x W network passes)."""
        return self.ancestral()[0]

    @cached_property
    def mean(self) -> torch.Tensor:
        """E[x_i | x_<i, z] along one ancestral draw: ``(B, *shape)`` (see the module docstring)."""
        return self.ancestral()[1]


@MODELS.register("pixelcnn_vae")
class PixelCNNVAE(VAE):
    """The VAE whose decoder is a gated PixelCNN conditioned on maps decoded from z."""

    Config = PixelCNNVAEConfig

    def build(self) -> None:
        cfg = self.config
        c = grid_shape(self.sample_shape)[0]
        self.encoder = Encoder(cfg.net, self.sample_shape, self.latent_dim, self.cond_dim)
        self.decoder = Decoder(cfg.net, self.sample_shape, self.latent_dim, cfg.cond_channels, self.cond_dim)
        n_params = self.likelihood_cls.n_params(self.likelihood_options)
        self.autoregressive = GatedPixelCNN(c, n_params * c, cfg.ar_channels, cfg.ar_layers, cfg.ar_kernel,
                                            cfg.cond_channels * c, vertical=grid_shape(self.sample_shape)[1] > 1)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> AutoregressiveLikelihood:
        """p(x | z): ``z (B, Z)`` -> the autoregressive likelihood over ``(B, *shape)``."""
        cond = self.decoder(z, self.condition(y))  # (B, Cc, *shape)
        c, h, w = grid_shape(self.sample_shape)
        return AutoregressiveLikelihood(self, cond.reshape(z.shape[0], -1, h, w))
