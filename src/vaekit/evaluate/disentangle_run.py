"""Disentanglement of a trained run: every metric, the factor each latent dimension captures, and
traversals annotated with it.

Python API::

    import vaekit
    from vaekit import figures
    from vaekit.evaluate.disentangle_run import disentangle

    run = vaekit.open_run("runs/beta_vae-shapes")
    result = disentangle(run, seed=0, scale=0.1)     # 10% of disentanglement_lib's sample counts
    result.scores["mig"]["mig"], result.latent_factors()
    figures.save(figures.factor_traversal_figure(run, result), "disentanglement.png")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..data.sources.shapes import sampler_for_spec
from ..device import device_of
from ..models.usage import kl_per_dim
from ..run import Run
from .disentanglement import (compute_metrics, factor_entropy, mutual_info_matrix, representation_from_model,
                              sample_codes)

#: Normalized mutual information below which a dimension is reported as capturing no factor.
MIN_NMI = 0.05


@dataclass
class DisentanglementResult:
    """Scores of a run and how its latent dimensions relate to the factors.

    Attributes:
        scores: metric name -> its dict of floats.
        nmi: ``(Z, F)`` I(z_i; v_k) / H(v_k), codes in 20 histogram bins (as for MIG).
        kl: ``(Z,)`` mean KL(q(z_i|x) || p(z_i)) in nats over the factor draws.
        factor_names: names of the F factors.
        options: seed, scale and per-metric options used.
    """

    scores: dict[str, dict[str, float]]
    nmi: np.ndarray
    kl: np.ndarray
    factor_names: tuple[str, ...]
    options: dict

    def latent_factors(self) -> list[dict]:
        """Per latent dimension: the factor of highest normalized MI (None below :data:`MIN_NMI`)."""
        rows = []
        for i, row in enumerate(self.nmi):
            k = int(row.argmax())
            rows.append({"dim": i, "factor": self.factor_names[k] if row[k] >= MIN_NMI else None,
                         "nmi": float(row[k]), "kl": float(self.kl[i])})
        return rows

    def to_json(self) -> dict:
        return {"scores": self.scores, "latent_factors": self.latent_factors(),
                "nmi": {"factors": list(self.factor_names), "matrix": self.nmi.round(4).tolist()},
                "options": self.options}


def disentangle(run: Run, seed: int = 0, scale: float = 1.0, names: Sequence[str] | None = None,
                options: dict[str, dict] | None = None, n_match: int | None = None) -> DisentanglementResult:
    """All (or the ``names``) metrics of a run trained on shapes data, plus the latent-factor matching.

    Args:
        run: a run trained on a ``shapes`` spec (its sampler renders fresh images for given factors).
        seed: seed of every metric's ``numpy`` generator.
        scale: multiplies disentanglement_lib's default sample counts (1.0 = the published protocol).
        options: per-metric keyword overrides, e.g. ``{"dci": {"importance": "lasso"}}``.
        n_match: factor draws for the normalized MI matrix (default 10,000 x scale, at least 1,000).
    """
    sampler = sampler_for_spec(run.config.data.spec)
    represent = representation_from_model(run.model, run.preprocessor)
    scores = compute_metrics(sampler, represent, seed, names, scale, options)
    n_match = n_match or max(1000, round(10_000 * scale))
    factors, z = sample_codes(sampler, represent, n_match, np.random.default_rng(seed))
    nmi = mutual_info_matrix(z, factors) / np.maximum(factor_entropy(factors), 1e-12)  # (Z, F)
    kl = _mean_kl(run, sampler.observations(factors[:2000]))
    used = {"seed": seed, "scale": scale, "data": run.config.data.spec, "metric_options": options or {}}
    return DisentanglementResult(scores, nmi, kl, tuple(sampler.factor_names), used)


@torch.no_grad()
def _mean_kl(run: Run, x: torch.Tensor) -> np.ndarray:
    return kl_per_dim(run.model, run.preprocessor(x.to(device_of(run.model)))).cpu().double().numpy()
