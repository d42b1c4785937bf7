"""The plain VAE (Kingma & Welling 2014) with MLP or convolutional bodies."""

from __future__ import annotations

from .base import MODELS, VAE

MODELS.register("vae")(VAE)
