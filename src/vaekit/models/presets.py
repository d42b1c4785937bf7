"""Named presets: partial run configs reproducing the seed and paper architectures."""

from __future__ import annotations

from ..registry import Registry

PRESETS: Registry = Registry("preset")


def preset(name: str, config: dict) -> None:
    """Register ``config`` (a partial run config: model/train/data sections) under ``name``."""
    PRESETS.register(name)(config)


# pytorch/examples VAE: 784-400-20, ReLU, Bernoulli, Adam 1e-3, batch 128.
preset("mlp-784-400-20", {"model": {"name": "vae", "latent_dim": 20,
                                    "net": {"body": "mlp", "hidden": [400], "activation": "relu"}},
                          "train": {"lr": 1e-3, "batch_size": 128}})
# The seed MLP VAE with two hidden layers of 400.
preset("mlp-784-400-400-20", {"model": {"name": "vae", "latent_dim": 20,
                                        "net": {"body": "mlp", "hidden": [400, 400], "activation": "relu"}}})
# Two strided convs of 32 channels, 4x4 kernels, latent 128.
preset("conv-32x2-z128", {"model": {"name": "vae", "latent_dim": 128,
                                    "net": {"body": "conv", "channels": [32, 32], "kernel": 4, "stride": 2}}})
# Three strided convs of 8/16/32 channels, 3x3 kernels, latent 32.
preset("conv-8-16-32-z32", {"model": {"name": "vae", "latent_dim": 32,
                                      "net": {"body": "conv", "channels": [8, 16, 32], "kernel": 3, "stride": 2}}})
# Keras example VAE: conv 32/64 (3x3, stride 2), dense 16, latent 2.
preset("keras-conv-z2", {"model": {"name": "vae", "latent_dim": 2,
                                   "net": {"body": "conv", "channels": [32, 64], "kernel": 3, "stride": 2,
                                           "dense": [16]}}})
# IWAE paper 1-stochastic-layer VAE: two 200-unit tanh layers, 50 latents (Burda et al. 2015, Sec. 5).
preset("iwae-1layer", {"model": {"name": "vae", "latent_dim": 50,
                                 "net": {"body": "mlp", "hidden": [200, 200], "activation": "tanh"}}})
