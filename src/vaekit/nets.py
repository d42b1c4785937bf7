"""Encoder and decoder bodies (MLP and convolutional) for any input shape.

Shapes: flat vectors ``(D,)``, sequences ``(C, L)`` and images ``(C, H, W)`` of any size. Conv bodies
use 1-D convolutions for vectors/sequences and 2-D for images; decoders undo every strided layer
exactly (``output_padding`` is computed per layer), so sizes that are not powers of two round-trip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .config import used_if
from .errors import ConfigError

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU,
               "gelu": nn.GELU, "silu": nn.SiLU, "softplus": nn.Softplus}
BODIES = ("mlp", "conv")


@dataclass
class NetConfig:
    """Architecture of the encoder/decoder pair (the decoder mirrors the encoder).

    Attributes:
        body: "mlp" or "conv".
        hidden: MLP hidden widths, input side first (decoder reversed).
        channels: conv channels per strided layer, input side first.
        kernel, stride: conv kernel size and stride of every strided layer.
        dense: dense widths between the flattened conv features and the latent (e.g. [16]).
        activation: one of relu, tanh, elu, leaky_relu, gelu, silu, softplus.
    """

    body: str = "mlp"
    hidden: list = used_if(lambda c: c.body == "mlp", default_factory=lambda: [400])
    channels: list = used_if(lambda c: c.body == "conv", default_factory=lambda: [32, 64])
    kernel: int = used_if(lambda c: c.body == "conv", default=4)
    stride: int = used_if(lambda c: c.body == "conv", default=2)
    dense: list = used_if(lambda c: c.body == "conv", default_factory=list)
    activation: str = "relu"

    def __post_init__(self) -> None:
        if self.body not in BODIES:
            raise ConfigError(f"model.net.body must be one of {', '.join(BODIES)}, got {self.body!r}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"model.net.activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        for key in ("hidden", "channels", "dense"):
            widths = getattr(self, key)
            if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
                raise ConfigError(f"model.net.{key} must be a list of positive integers, got {widths!r}")
        if self.body == "conv" and not self.channels:
            raise ConfigError("model.net.channels must name at least one conv layer")
        if self.kernel < 1 or self.stride < 1:
            raise ConfigError("model.net.kernel and model.net.stride must be positive")


def mlp(widths: list[int], activation: str, final_activation: bool = False) -> nn.Sequential:
    """Linear layers ``widths[0] -> ... -> widths[-1]`` with activations between them."""
    layers: list[nn.Module] = []
    for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(w_in, w_out))
        if final_activation or i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def _conv_geometry(shape: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """(channels, spatial sizes) of a sample shape; flat vectors become one channel."""
    if len(shape) == 1:
        return 1, shape
    return shape[0], tuple(shape[1:])


class Encoder(nn.Module):
    """x ``(B, *shape)`` [+ condition ``(B, c)``] -> (mu, logvar), each ``(B, Z)``."""

    def __init__(self, cfg: NetConfig, shape: tuple[int, ...], latent_dim: int, cond_dim: int = 0) -> None:
        super().__init__()
        self.body, features = encoder_body(cfg, shape)
        self.head = nn.Linear(features + cond_dim, 2 * latent_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head_params(self.body(x), cond)  # body: (B, F)

    def head_params(self, h: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar), each ``(..., Z)``, from body features ``h (..., F)`` [+ condition ``(..., c)``]."""
        if cond is not None:
            h = torch.cat([h, cond], dim=-1)  # (..., F + c)
        mu, logvar = self.head(h).chunk(2, dim=-1)  # (..., Z) each
        return mu, logvar


def encoder_body(cfg: NetConfig, shape: tuple[int, ...]) -> tuple[nn.Module, int]:
    """The encoder's feature extractor ``(B, *shape) -> (B, F)`` (MLP or conv) and its width F."""
    return _mlp_body(cfg, shape) if cfg.body == "mlp" else _conv_body(cfg, shape)


def _mlp_body(cfg: NetConfig, shape: tuple[int, ...]) -> tuple[nn.Module, int]:
    d = math.prod(shape)
    if not cfg.hidden:
        return nn.Flatten(), d
    return nn.Sequential(nn.Flatten(), mlp([d, *cfg.hidden], cfg.activation, final_activation=True)), cfg.hidden[-1]


def _conv_sizes(cfg: NetConfig, spatial: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Spatial size before each strided layer and after the last one."""
    pad = (cfg.kernel - 1) // 2
    sizes = [spatial]
    for _ in cfg.channels:
        nxt = tuple((s + 2 * pad - cfg.kernel) // cfg.stride + 1 for s in sizes[-1])
        if min(nxt) < 1:
            raise ConfigError(f"input of spatial size {spatial} is too small for {len(cfg.channels)} "
                              f"conv layers (kernel {cfg.kernel}, stride {cfg.stride})")
        sizes.append(nxt)
    return sizes


def _conv_body(cfg: NetConfig, shape: tuple[int, ...]) -> tuple[nn.Module, int]:
    c_in, spatial = _conv_geometry(shape)
    conv = nn.Conv1d if len(spatial) == 1 else nn.Conv2d
    pad = (cfg.kernel - 1) // 2
    layers: list[nn.Module] = [nn.Unflatten(1, (1, *spatial))] if len(shape) == 1 else []
    for c_out in cfg.channels:
        layers += [conv(c_in, c_out, cfg.kernel, cfg.stride, pad), ACTIVATIONS[cfg.activation]()]
        c_in = c_out
    layers.append(nn.Flatten())
    features = c_in * math.prod(_conv_sizes(cfg, spatial)[-1])
    if cfg.dense:
        layers.append(mlp([features, *cfg.dense], cfg.activation, final_activation=True))
        features = cfg.dense[-1]
    return nn.Sequential(*layers), features


class Decoder(nn.Module):
    """z ``(B, Z)`` [+ condition ``(B, c)``] -> likelihood params ``(B, P, *shape)``."""

    def __init__(self, cfg: NetConfig, shape: tuple[int, ...], latent_dim: int, n_params: int,
                 cond_dim: int = 0) -> None:
        super().__init__()
        self.shape, self.n_params = tuple(shape), n_params
        z_in = latent_dim + cond_dim
        self.net = _mlp_decoder(cfg, shape, z_in, n_params) if cfg.body == "mlp" else _conv_decoder(
            cfg, shape, z_in, n_params)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is not None:
            z = torch.cat([z, cond], dim=1)  # (B, Z + c)
        out = self.net(z)
        if len(self.shape) == 1:  # (B, P * D) or (B, P, D) -> (B, P, D)
            return out.reshape(z.shape[0], self.n_params, *self.shape)
        c = self.shape[0]  # conv: (B, P * C, ...) ; mlp: (B, P * C * H * W)
        return out.reshape(z.shape[0], self.n_params, c, *self.shape[1:])


def _mlp_decoder(cfg: NetConfig, shape: tuple[int, ...], z_in: int, n_params: int) -> nn.Module:
    return mlp([z_in, *reversed(cfg.hidden), n_params * math.prod(shape)], cfg.activation)


def _conv_decoder(cfg: NetConfig, shape: tuple[int, ...], z_in: int, n_params: int) -> nn.Module:
    c_data, spatial = _conv_geometry(shape)
    sizes = _conv_sizes(cfg, spatial)
    convt = nn.ConvTranspose1d if len(spatial) == 1 else nn.ConvTranspose2d
    pad = (cfg.kernel - 1) // 2
    act = ACTIVATIONS[cfg.activation]
    flat = cfg.channels[-1] * math.prod(sizes[-1])
    layers: list[nn.Module] = [mlp([z_in, *reversed(cfg.dense), flat], cfg.activation, final_activation=True),
                               nn.Unflatten(1, (cfg.channels[-1], *sizes[-1]))]
    outs = [*reversed(cfg.channels[:-1]), n_params * c_data]
    c_in = cfg.channels[-1]
    for i, c_out in enumerate(outs):
        size_in, target = sizes[-1 - i], sizes[-2 - i]
        op = tuple(t - ((s - 1) * cfg.stride - 2 * pad + cfg.kernel) for s, t in zip(size_in, target))
        if min(op) < 0 or max(op) >= cfg.stride:
            raise ConfigError(f"conv decoder cannot restore size {target} from {size_in} "
                              f"(kernel {cfg.kernel}, stride {cfg.stride}); try another kernel")
        layers.append(convt(c_in, c_out, cfg.kernel, cfg.stride, pad, output_padding=op))
        if i < len(outs) - 1:
            layers.append(act())
        c_in = c_out
    return nn.Sequential(*layers)
