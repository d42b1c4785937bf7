"""Model registry: one file per model, each registered by name with its own config class."""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError
from ..limits import MAX_PARAMETERS
from ..tabular.codec import TableCodec
from ..tabular.likelihood import ColumnLayout
from . import vae  # noqa: F401  (registers "vae"; imported first so it lists first)
from . import beta_vae, cvae, factor_vae, hierarchical, iwae, m1m2, m2, tcvae  # noqa: F401  (register the variants)
from . import iaf, mog_prior, pixelcnn_vae, vampprior, vq_vae  # noqa: F401  (priors, posteriors, decoders)
from .base import MODELS, VAE, Capabilities, ElboTerms, LossContext, ModelConfig, free_bits_kl, require
from .presets import PRESETS


def build_model(config: ModelConfig, sample_shape: tuple[int, ...], n_classes: int | None = None,
                columns: TableCodec | None = None) -> VAE:
    """Instantiate the registered model named by ``config.name``.

    Its size is checked first, on a weightless copy (:func:`meta_model`): more than
    :data:`~vaekit.limits.MAX_PARAMETERS` parameters is a ConfigError, before anything is allocated.

    Args:
        columns: the fitted columns of table data (``Splits.columns``, ``Run.columns``); the
            ``tabular`` likelihood reads its layout.
    """
    n = sum(t.numel() for t in meta_model(config, sample_shape, n_classes, columns).state_dict().values())
    if n > MAX_PARAMETERS:
        raise ConfigError(f"model {config.name!r} with latent_dim {config.latent_dim} on examples of shape "
                          f"{tuple(sample_shape)} would have {n:,} parameters; at most {MAX_PARAMETERS:,} are "
                          "allowed (use a smaller network or smaller inputs)")
    return MODELS.get(config.name)(config, sample_shape, n_classes, columns=_layout(columns, sample_shape))


def _layout(columns: TableCodec | None, sample_shape: tuple[int, ...]) -> ColumnLayout | None:
    if columns is None:
        return None
    if columns.width != math.prod(sample_shape):
        raise ConfigError(f"the table's columns encode {columns.width} values per row, "
                          f"the examples have shape {tuple(sample_shape)}")
    return ColumnLayout.from_codec(columns)


def meta_model(config: ModelConfig, sample_shape: tuple[int, ...], n_classes: int | None = None,
               columns: TableCodec | None = None) -> VAE:
    """The model's structure on the meta device: names and shapes of every tensor, no memory, no RNG draws."""
    layout = _layout(columns, sample_shape)
    with torch.device("meta"):
        return MODELS.get(config.name)(config, sample_shape, n_classes, columns=layout)


__all__ = ["MODELS", "PRESETS", "VAE", "Capabilities", "ElboTerms", "LossContext", "ModelConfig", "build_model",
           "free_bits_kl", "meta_model", "require"]
