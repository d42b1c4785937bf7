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
# IWAE paper 1-stochastic-layer architecture trained on the k = 5 bound.
preset("iwae-1layer-k5", {"model": {"name": "iwae", "k": 5, "latent_dim": 50,
                                    "net": {"body": "mlp", "hidden": [200, 200], "activation": "tanh"}}})
# IWAE paper 2-stochastic-layer architecture (Burda et al. 2015, Sec. 5 and their experiments.py):
# x -200-200- z1(100) -100-100- z2(50), tanh; here with ladder (top-down) inference.
_IWAE_2LAYER = {"latent_dim": 50, "lower_latent_dims": [100], "ladder_hidden": [100, 100],
                "net": {"body": "mlp", "hidden": [200, 200], "activation": "tanh"}}
preset("iwae-2layer", {"model": {"name": "hierarchical", **_IWAE_2LAYER}})
preset("iwae-2layer-k5", {"model": {"name": "hierarchical_iwae", "k": 5, **_IWAE_2LAYER}})
# The iwae-1layer VAE (x -200-200- z1(50)) with a second stochastic layer on top (-100-100- z2(50), the
# 2-layer model's top-down widths) and the direct posterior: at initialization a flat VAE whose
# prior p(z1 | z2) then learns to use z2 (bench/models.py's hierarchical rows).
preset("ladder-50-50", {"model": {"name": "hierarchical", "latent_dim": 50, "lower_latent_dims": [50],
                                  "ladder_hidden": [100, 100], "posterior": "direct",
                                  "net": {"body": "mlp", "hidden": [200, 200], "activation": "tanh"}}})
# Higgins et al. 2017 beta-VAE (beta = 4) on the seed MLP.
preset("beta-vae-b4", {"model": {"name": "beta_vae", "beta": 4.0, "latent_dim": 10,
                                 "net": {"body": "mlp", "hidden": [1200, 1200], "activation": "relu"}}})
# Burgess et al. 2018 capacity control: 4 convs of 32 (4x4, stride 2), 2 x 256 dense, 10 latents,
# gamma 1000, C rising to 25 nats over 100k steps.
preset("burgess-capacity", {"model": {"name": "beta_vae", "latent_dim": 10, "gamma": 1000.0,
                                      "capacity_max": 25.0, "capacity_steps": 100_000,
                                      "net": {"body": "conv", "channels": [32, 32, 32, 32], "kernel": 4,
                                              "stride": 2, "dense": [256, 256]}}})
# Chen et al. 2018 beta-TCVAE (beta = 6) with their MLP encoder widths (1200-1200), 10 latents.
preset("beta-tcvae-mlp", {"model": {"name": "beta_tcvae", "beta": 6.0, "latent_dim": 10,
                                    "net": {"body": "mlp", "hidden": [1200, 1200], "activation": "relu"}}})
# Kim & Mnih 2018 FactorVAE: conv 32-32-64-64 (4x4, stride 2), dense 128, 10 latents; 6-layer discriminator.
preset("factorvae-conv", {"model": {"name": "factor_vae", "gamma": 10.0, "latent_dim": 10,
                                    "net": {"body": "conv", "channels": [32, 32, 64, 64], "kernel": 4,
                                            "stride": 2, "dense": [128]}}})
# Conditional VAE on the seed MLP (one-hot labels into encoder and decoder).
preset("cvae-mlp", {"model": {"name": "cvae", "latent_dim": 20,
                              "net": {"body": "mlp", "hidden": [400], "activation": "relu"}}})
# Tables (the default tabular anomaly recipe, bench/anomaly_tabular.py): the tabular likelihood, a small
# MLP and a small latent space, many epochs (tables are small), scored with the recon_nll score.
preset("tabular", {"model": {"name": "vae", "latent_dim": 4,
                             "net": {"body": "mlp", "hidden": [64], "activation": "relu"}},
                   "train": {"epochs": 200, "batch_size": 32, "lr": 1e-3}})
# Tomczak & Welling 2018 MNIST setting with their VampPrior: 2 x 300 hidden units (ReLU here; gated
# units there), 40 latents, K = 500 pseudo-inputs, Adam 5e-4, batch 100, 100-epoch KL warm-up.
_TOMCZAK_NET = {"body": "mlp", "hidden": [300, 300], "activation": "relu"}
_TOMCZAK_TRAIN = {"lr": 5e-4, "batch_size": 100, "kl_schedule": "linear", "warmup_epochs": 100}
preset("vampprior-mlp", {"model": {"name": "vampprior", "latent_dim": 40, "n_pseudo": 500, "net": _TOMCZAK_NET},
                         "train": _TOMCZAK_TRAIN})
# The same network with the N(0, I) prior (their "standard" baseline).
preset("vae-mlp-300-z40", {"model": {"name": "vae", "latent_dim": 40, "net": _TOMCZAK_NET}, "train": _TOMCZAK_TRAIN})
# The same network with a learned mixture of 10 Gaussians as the prior.
preset("mog-prior-mlp", {"model": {"name": "mog_prior", "latent_dim": 40, "n_components": 10, "net": _TOMCZAK_NET},
                         "train": _TOMCZAK_TRAIN})
# The same network with an IAF posterior: 2 MADE steps of 320 hidden units reading a 64-unit context.
preset("iaf-mlp", {"model": {"name": "iaf", "latent_dim": 40, "n_flows": 2, "flow_hidden": [320],
                             "context_dim": 64, "net": _TOMCZAK_NET}, "train": _TOMCZAK_TRAIN})
# The same encoder with a PixelCNN decoder (2 gated layers of 8 channels, 3 x 3: a small receptive
# field leaves the global shape to z), conditioned on 2 maps decoded from z by the mirrored MLP.
preset("pixelcnn-vae-mlp", {"model": {"name": "pixelcnn_vae", "latent_dim": 40, "ar_channels": 8, "ar_layers": 2,
                                      "ar_kernel": 3, "cond_channels": 2, "net": _TOMCZAK_NET},
                            "train": _TOMCZAK_TRAIN})
# VQ-VAE with MLP bodies (512-256): a 4 x 4 map of codes from a codebook of 64 vectors of 16
# dimensions, and a PixelCNN prior of 4 gated layers of 32 channels over the map.
preset("vq-vae-mlp", {"model": {"name": "vq_vae", "latent_dim": 16, "code_grid": [4, 4], "codebook_size": 64,
                                "prior_channels": 32, "prior_layers": 4,
                                "net": {"body": "mlp", "hidden": [512, 256], "activation": "relu"}},
                      "train": {"lr": 1e-3, "batch_size": 100}})
# Kingma et al. 2014 (semi-supervised, Sec. 4.1): M1, a VAE with two hidden layers of 600 softplus units
# and 50 latents; M2 with one hidden layer of 500 and 50 latents; M1+M2, M2 on the latents of an ssl-m1 run
# (train it with --set model.m1_run=RUN). Train M2 and M1+M2 with data.labelled set (e.g. 100). alpha 10:
# of 1, 3, 10 and 50 it gave M1+M2 the lowest MNIST validation error after 10 epochs (the paper's 0.1 is
# tuned for 3000 epochs); docs/benchmarks/semi_supervised.md.
_SOFTPLUS_500 = {"body": "mlp", "hidden": [500], "activation": "softplus"}
_SOFTPLUS_600_600 = {"body": "mlp", "hidden": [600, 600], "activation": "softplus"}
preset("ssl-m1", {"model": {"name": "vae", "latent_dim": 50, "net": _SOFTPLUS_600_600},
                  "train": {"lr": 1e-3, "batch_size": 100}})
preset("ssl-m2", {"model": {"name": "m2", "latent_dim": 50, "net": _SOFTPLUS_500, "alpha": 10.0},
                  "train": {"lr": 1e-3, "batch_size": 100}})
preset("ssl-m1m2", {"model": {"name": "m1m2", "latent_dim": 50, "net": _SOFTPLUS_500, "alpha": 10.0,
                              "m1_latent_dim": 50, "m1_net": _SOFTPLUS_600_600},
                    "train": {"lr": 1e-3, "batch_size": 100}})
