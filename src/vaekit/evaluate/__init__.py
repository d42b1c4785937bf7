"""Evaluation: likelihood bounds, latent statistics, disentanglement and anomaly metrics."""

from .likelihood import elbo_stats

__all__ = ["elbo_stats"]
