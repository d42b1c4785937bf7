"""Model registry: one file per model, each registered by name with its own config class."""

from __future__ import annotations

from . import vae  # noqa: F401  (registers "vae"; imported first so it lists first)
from . import beta_vae, cvae, factor_vae, hierarchical, iwae, tcvae  # noqa: F401  (register the variants)
from .base import MODELS, VAE, ElboTerms, LossContext, ModelConfig, free_bits_kl
from .presets import PRESETS


def build_model(config: ModelConfig, sample_shape: tuple[int, ...], n_classes: int | None = None) -> VAE:
    """Instantiate the registered model named by ``config.name``."""
    return MODELS.get(config.name)(config, sample_shape, n_classes)


__all__ = ["MODELS", "PRESETS", "VAE", "ElboTerms", "LossContext", "ModelConfig", "build_model", "free_bits_kl"]
