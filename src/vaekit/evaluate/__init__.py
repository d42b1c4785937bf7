"""Evaluation: likelihood bounds, latent statistics, disentanglement and anomaly metrics."""

from .api import evaluate
from ..models.usage import active_units
from .latent_stats import linear_probe, posterior_means
from .likelihood import elbo_per_example, elbo_stats, iw_log_likelihood, plan_chunks

__all__ = ["active_units", "elbo_per_example", "elbo_stats", "evaluate", "iw_log_likelihood",
           "linear_probe", "plan_chunks", "posterior_means"]
