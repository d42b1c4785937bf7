"""Anomaly detection with a trained VAE: per-example scores, detection metrics, validation thresholds.

Every score is "higher = more anomalous" and per example; all but ``recon`` are in nats.

- ``nelbo``: negative ELBO, -E_q[log p(x|z)] + KL(q(z|x) || p(z)) (Kingma & Welling 2014, Eq. 3),
  the expectation averaged over ``elbo_samples`` posterior draws.
- ``nll``: importance-sampled negative log-likelihood -log (1/k) sum_i p(x, z_i) / q(z_i|x)
  (Burda et al. 2015, Eq. 8).
- ``recon``: squared reconstruction error ||x - E[x | z = mu(x)]||^2 in model space (no likelihood).
- ``recon_nll``: -log p(x | z = mu(x)), the likelihood term at the posterior mean (no sampling, so
  the same row always gets the same score); for tables it is the sum of the per-column
  contributions of :func:`column_contributions`.
- ``kl``: the rate KL(q(z|x) || p(z)) alone (against the model's prior; a Monte Carlo estimate where
  it has no closed form).
- ``complexity``: ``nll`` minus the input's compressed length L(x) in nats, the input-complexity
  corrected score S(x) = -log p(x) - L(x) of Serra et al. 2020 (Eq. 2). L(x) comes from a standard
  compressor applied to the input as the model sees it: images (C, H, W) are written as a PNG (Pillow;
  1-bit when binary, else 8-bit gray or RGB, other channel counts stacked as gray rows); vectors and
  sequences are rounded to multiples of ``vector_step`` in model space (so 1/16 of a standard deviation
  with data.standardize) as int16 and compressed with zlib (level 9). For continuous likelihoods the
  difference compares a density with a code length: fine for ranking inputs, not an absolute quantity.
- ``llr``: ``nll`` of the model minus ``nll`` of a background model, i.e. minus the log likelihood
  ratio of Ren et al. 2019 (Eq. 5). The background model is a second run, typically trained on inputs
  perturbed with ``data.perturb`` (their Sec. 3.1).

The evaluation protocol around them is in :mod:`.protocol`, figures and CSV output in :mod:`.output`.
"""

from __future__ import annotations

import io
import logging
import math
import time
import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from PIL import Image

from ...data import Dataset, Preprocessor, batch_indices
from ...device import device_of, evaluating
from ...errors import ConfigError, DataError
from ...models import VAE, require
from ...progress import format_seconds
from ...registry import Registry
from ..likelihood import elbo_per_example, iw_log_likelihood

log = logging.getLogger(__name__)
#: name -> function(DatasetScores) -> (N,) float64 score tensor
SCORES: Registry = Registry("anomaly score")
#: Scores computed from the model alone for images (``llr`` also needs a background model).
DEFAULT_SCORES = ("nelbo", "nll", "recon", "kl", "complexity")
#: ... and for vectors and tables: a PNG/zlib code length of a table row means nothing.
VECTOR_SCORES = ("nelbo", "nll", "recon", "recon_nll", "kl")
#: The score of the default tabular recipe (the ``tabular`` preset; bench/anomaly_tabular.py).
TABLE_SCORE = "nll"
#: Scores that need an importance-sampled density bound (:attr:`Capabilities.density_bound`).
DENSITY_SCORES = ("nll", "complexity", "llr")


def default_scores(ds: Dataset) -> tuple[str, ...]:
    """The scores reported by default for ``ds``: :data:`DEFAULT_SCORES` for images, else
    :data:`VECTOR_SCORES` (no compression score)."""
    return DEFAULT_SCORES if ds.is_image else VECTOR_SCORES


@dataclass
class ScoreOptions:
    """How scores are computed.

    Attributes:
        k: importance samples per example for ``nll``, ``complexity`` and ``llr``.
        elbo_samples: posterior draws averaged in ``nelbo`` and ``kl``.
        batch_size: examples per forward pass of ``nelbo``, ``kl`` and ``recon``.
        seed: seed of the posterior draws, so scores are reproducible.
        vector_step: quantization step of vectors before zlib (``complexity``), in model-space units.
        common_noise: every example gets the same posterior noise draws (common random numbers), so
            its score does not depend on its position in the data or on the other examples.
    """

    k: int = 100
    elbo_samples: int = 8
    batch_size: int = 500
    seed: int = 0
    vector_step: float = 1 / 16
    common_noise: bool = False

    def __post_init__(self) -> None:
        for key in ("k", "elbo_samples", "batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be at least 1, got {getattr(self, key)}")
        if self.vector_step <= 0:
            raise ConfigError(f"vector_step must be positive, got {self.vector_step}")


class DatasetScores:
    """A dataset and the quantities its scores share, each computed at most once (float64, CPU).

    Args:
        model, pre: the scored model and its preprocessor.
        ds: the examples, stored as in the data source.
        opts: score options.
        background: ``(model, preprocessor)`` of the likelihood-ratio background, or None.
    """

    def __init__(self, model: VAE, pre: Preprocessor, ds: Dataset, opts: ScoreOptions,
                 background: tuple[VAE, Preprocessor] | None = None) -> None:
        self.model, self.pre, self.ds, self.opts, self.background = model, pre, ds, opts, background

    def nll_of(self, model: VAE, pre: Preprocessor) -> torch.Tensor:
        """Importance-sampled -log p(x) of every example under ``model``: ``(N,)``."""
        x, y = self.ds.x, _labels(model, self.ds.y)
        return -iw_log_likelihood(model, x, y, self.opts.k, transform=pre, seed=self.opts.seed,
                                  common_noise=self.opts.common_noise)  # (N,)

    @cached_property
    def nll(self) -> torch.Tensor:
        return self.nll_of(self.model, self.pre)

    @cached_property
    def elbo(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(distortion, KL), each ``(N,)``, averaged over ``elbo_samples`` posterior draws."""
        x, y = self.ds.x, _labels(self.model, self.ds.y)
        draws = [elbo_per_example(self.model, x, y, transform=self.pre, batch_size=self.opts.batch_size,
                                  seed=self.opts.seed + i, common_noise=self.opts.common_noise)
                 for i in range(self.opts.elbo_samples)]
        distortion = -torch.stack([d["log_px"] for d in draws]).mean(0)  # (N,)
        kl = torch.stack([d["kl"].sum(1) for d in draws]).mean(0)  # (N,)
        return distortion, kl

    def batches(self):
        """``(x, y)`` model-ready batches on the model's device (y for conditional models only)."""
        device = device_of(self.model)
        y_all = _labels(self.model, self.ds.y)
        for idx in batch_indices(len(self.ds), self.opts.batch_size, shuffle=False):
            yield self.pre(self.ds.x[idx].to(device)), None if y_all is None else y_all[idx].to(device)


def _labels(model: VAE, y: torch.Tensor | None) -> torch.Tensor | None:
    """Labels for conditional models (which need them), None for the others."""
    if not model.conditional:
        return None
    if y is None:
        raise DataError("a conditional model can only score labelled data")
    return y


@SCORES.register("nelbo")
def nelbo_score(d: DatasetScores) -> torch.Tensor:
    distortion, kl = d.elbo
    return distortion + kl


@SCORES.register("kl")
def kl_score(d: DatasetScores) -> torch.Tensor:
    return d.elbo[1]


@SCORES.register("recon")
def recon_score(d: DatasetScores) -> torch.Tensor:
    with evaluating(d.model):
        errors = [(x - d.model.reconstruct(x, y)).flatten(1).pow(2).sum(1) for x, y in d.batches()]  # (B,)
    return torch.cat(errors).double().cpu()


@SCORES.register("recon_nll")
def recon_nll_score(d: DatasetScores) -> torch.Tensor:
    with evaluating(d.model):
        parts = [-d.model.decode(d.model.encode(x, y).mean, y).log_prob(x) for x, y in d.batches()]  # (B,)
    return torch.cat(parts).double().cpu()


@SCORES.register("nll")
def nll_score(d: DatasetScores) -> torch.Tensor:
    return d.nll


@SCORES.register("complexity")
def complexity_score(d: DatasetScores) -> torch.Tensor:
    lengths = [compressed_nats(x, d.pre, d.opts.vector_step) for x, _ in d.batches()]
    return d.nll - torch.cat(lengths)


@SCORES.register("llr")
def llr_score(d: DatasetScores) -> torch.Tensor:
    return d.nll - d.nll_of(*d.background)


def compressed_nats(x: torch.Tensor, pre: Preprocessor, vector_step: float = 1 / 16) -> torch.Tensor:
    """Compressed length L(x) of each input in nats (Serra et al. 2020, Sec. 3): ``(B,)`` float64.

    Args:
        x: ``(B, C, H, W)`` images or ``(B, D)`` / ``(B, C, L)`` vectors, model space.
        pre: the preprocessor that produced ``x`` (images are compressed in data space, [0, 1]).
        vector_step: rounding step of vectors before zlib.
    """
    if x.dim() == 4:
        blobs = [_png(img) for img in pre.invert(x).detach().cpu()]
    else:
        codes = torch.round(x.detach().cpu().flatten(1) / vector_step).clamp(-2**15, 2**15 - 1)  # (B, D)
        blobs = [zlib.compress(row.numpy().tobytes(), 9) for row in codes.to(torch.int16)]
    return torch.tensor([8 * len(blob) * math.log(2) for blob in blobs], dtype=torch.float64)


def _png(img: torch.Tensor) -> bytes:
    """PNG bytes of one ``(C, H, W)`` image in [0, 1]: 1-bit when binary, 8-bit gray/RGB otherwise."""
    img = img.clamp(0, 1)
    if img.shape[0] != 3:
        img = img.reshape(1, -1, img.shape[-1])  # channels stacked as rows of one gray image
    binary = bool(((img == 0) | (img == 1)).all())
    pixels = img.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (H, W, C)
    pil = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    buf = io.BytesIO()
    (pil.convert("1") if binary else pil).save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


@torch.inference_mode()
def column_contributions(model: VAE, ds: Dataset, pre: Preprocessor, batch_size: int = 500) -> np.ndarray:
    """Which columns make a table row anomalous: -log p(x_c | z = mu(x)) per row and column, nats.

    Needs the ``tabular`` likelihood (one distribution per column); a missing cell contributes 0.
    Returns ``(N, C)`` float64 in the order of ``ds`` and of the run's columns; each row sums to its
    ``recon_nll`` score.
    """
    if not hasattr(model.likelihood_cls, "log_prob_columns"):
        raise ConfigError(f"per-column contributions need the tabular likelihood (the model uses "
                          f"{model.config.likelihood!r})")
    d = DatasetScores(model, pre, ds, ScoreOptions(batch_size=batch_size))
    with evaluating(model):
        parts = [-model.decode(model.encode(x, y).mean, y).log_prob_columns(x) for x, y in d.batches()]  # (B, C)
    return torch.cat(parts).double().cpu().numpy()


@torch.inference_mode()
def score_dataset(model: VAE, ds: Dataset, pre: Preprocessor, names: list[str] | tuple[str, ...] = DEFAULT_SCORES,
                  opts: ScoreOptions | None = None,
                  background: tuple[VAE, Preprocessor] | None = None) -> dict[str, np.ndarray]:
    """Anomaly scores of every example of ``ds`` (higher = more anomalous).

    Args:
        model, pre: the trained model and its preprocessor (``run.model``, ``run.preprocessor``).
        ds: the examples, stored as in the data source.
        names: registered scores (see :data:`SCORES`).
        opts: score options (defaults: :class:`ScoreOptions`).
        background: ``(model, preprocessor)`` of the background run for ``llr``.
    Returns ``{name: (N,) float64 array}`` in the order of ``ds``; draws are seeded by ``opts.seed``
    (the global RNG state is left untouched).
    """
    fns = {name: SCORES.get(name) for name in names}
    for name in set(fns) & set(DENSITY_SCORES):
        require(model, "density_bound", f"the {name} anomaly score")
    if "llr" in fns and background is None:
        raise ConfigError("the llr score needs a background model (a second run)")
    d = DatasetScores(model, pre, ds, opts or ScoreOptions(), background)
    out = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        out[name] = fn(d).numpy()
        log.info("anomaly score %s of %d examples (%s): %s", name, len(ds), ds.name or "data",
                 format_seconds(time.perf_counter() - t0))
    return out
