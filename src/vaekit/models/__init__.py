"""Model registry: one file per model, each registered by name with its own config class."""

from __future__ import annotations

import math

from ..errors import ConfigError
from ..tabular.codec import TableCodec
from ..tabular.likelihood import ColumnLayout
from . import vae  # noqa: F401  (registers "vae"; imported first so it lists first)
from . import beta_vae, cvae, factor_vae, hierarchical, iwae, tcvae  # noqa: F401  (register the variants)
from .base import MODELS, VAE, ElboTerms, LossContext, ModelConfig, free_bits_kl
from .presets import PRESETS


def build_model(config: ModelConfig, sample_shape: tuple[int, ...], n_classes: int | None = None,
                columns: TableCodec | None = None) -> VAE:
    """Instantiate the registered model named by ``config.name``.

    Args:
        columns: the fitted columns of table data (``Splits.columns``, ``Run.columns``); the
            ``tabular`` likelihood reads its layout.
    """
    layout = None
    if columns is not None:
        if columns.width != math.prod(sample_shape):
            raise ConfigError(f"the table's columns encode {columns.width} values per row, "
                              f"the examples have shape {tuple(sample_shape)}")
        layout = ColumnLayout.from_codec(columns)
    return MODELS.get(config.name)(config, sample_shape, n_classes, columns=layout)


__all__ = ["MODELS", "PRESETS", "VAE", "ElboTerms", "LossContext", "ModelConfig", "build_model", "free_bits_kl"]
