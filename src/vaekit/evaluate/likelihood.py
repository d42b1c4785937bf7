"""Likelihood evaluation: negative ELBO and its terms, importance-sampled log-likelihood, bits/dim.

The importance-sampled estimate (Burda et al. 2015, Eq. 8) of log p(x) for one example is
``log (1/K) sum_k exp(w_k)`` with ``w_k = log p(x, z_k) - log q(z_k | x)``, ``z_k ~ q(z | x)``,
taken from the model's :meth:`~vaekit.models.VAE.log_weights`, so every model (hierarchical,
conditional, ...) is covered. It is computed in calls of at most ``budget`` elements (examples x
samples x the widest per-sample tensor) with a running log-sum-exp over sample chunks, so memory is
bounded for any K. The posterior noise of example ``i``, sample ``j`` is a hash of (seed, i, j)
(:mod:`.noise`), so the result does not depend on the chunking: the same seed gives the same number
for any budget, up to float rounding of differently sized matrix products.
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator

import numpy as np
import torch

from ..data import Dataset, Preprocessor, batch_indices
from ..device import evaluating
from ..distributions import noise_source
from ..errors import ConfigError
from ..models import VAE
from ..progress import task
from .noise import KeyedNoise

#: Default elements per ``log_weights`` call (examples x samples x widest per-sample tensor): 2^21 =
#: 2.1M, i.e. 2,674 importance samples of one MNIST example per call for an MLP no wider than 784.
#: Peak memory above the baseline is a few times 4 bytes x budget (docs/benchmarks/iwae-evaluation.md).
DEFAULT_BUDGET = 2 ** 21
#: Seed streams, so the ELBO pass and the importance-sampling pass never share noise.
IW_STREAM, ELBO_STREAM = 0, 1

Transform = Callable[[torch.Tensor], torch.Tensor]


def bits_per_dim(nats: float, n_dims: int) -> float:
    """Convert nats per example to bits per data dimension: nats / (D ln 2)."""
    return nats / (n_dims * math.log(2))


def model_bpd(model: VAE, nats: float) -> float | None:
    """Bits/dim of ``nats`` per example for a model of discrete images (a probability mass over the
    pixels: bits/dim are meaningful); None for continuous likelihoods and non-image data."""
    if not (model.likelihood_cls.discrete and len(model.sample_shape) == 3):
        return None
    return bits_per_dim(nats, model.n_data_dims)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block with the torch generators seeded to ``seed``; the global RNG state is restored."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def keyed_noise(seed: int, stream: int, device: torch.device, first_example: int, n_examples: int,
                first_sample: int, n_samples: int, shared: bool = False) -> Iterator[None]:
    """Posterior noise for samples ``first_sample..+n_samples`` of examples ``first_example..+n_examples``
    hashed from (seed, stream, example, sample) (see :mod:`.noise`), and torch's generator seeded
    from the same block for any other randomness a model uses. With ``shared`` every example gets
    example 0's noise (common random numbers)."""
    noise = KeyedNoise(call_seed(seed, stream), first_example, n_examples, first_sample, n_samples, shared)
    block = 0 if shared else first_example
    with seeded(call_seed(seed, stream, block, first_sample), device), noise_source(noise):
        yield


def call_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed derived from ``seed`` and integer keys (numpy SeedSequence mixing)."""
    state = np.random.SeedSequence([seed, *keys]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


@torch.inference_mode()
def per_sample_elements(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None) -> int:
    """Elements of the largest tensor one importance sample of one example makes inside ``log_weights``.

    Measured with forward hooks on every module during ``log_weights(x[:1], y[:1], k=1)``: the
    widest layer output, or the data dimensions if larger (likelihood terms are that size). A first
    call without hooks fills the caches of models that compute their prior once per parameter state
    (the VampPrior encodes its K pseudo-inputs then), so that pass is not taken for a per-sample one.
    """
    sizes = [math.prod(x.shape[1:])]
    with seeded(0, x.device):
        model.log_weights(x[:1], None if y is None else y[:1], 1)

    def record(module, inputs, output) -> None:
        outputs = output if isinstance(output, (tuple, list)) else (output,)
        sizes.extend(t.numel() for t in outputs if isinstance(t, torch.Tensor))

    handles = [m.register_forward_hook(record) for m in model.modules()]
    try:
        with seeded(0, x.device):
            model.log_weights(x[:1], None if y is None else y[:1], 1)
    finally:
        for handle in handles:
            handle.remove()
    return max(sizes)


def plan_chunks(n_examples: int, k: int, n_dims: int, budget: int = DEFAULT_BUDGET) -> tuple[int, int]:
    """Examples and samples per ``log_weights`` call so that examples * samples * n_dims <= budget.

    ``n_dims`` is the size of the largest per-sample tensor (see :func:`per_sample_elements`).

    Samples are chunked first (a single example's K samples may exceed the budget); the bound is
    exceeded only when one sample of one example alone is larger than ``budget``.

    Returns:
        ``(examples_per_call, samples_per_call)``, each at least 1.
    """
    per_sample = max(1, n_dims)
    samples = max(1, min(k, budget // per_sample))
    examples = max(1, min(n_examples, budget // (samples * per_sample)))
    return examples, samples


def batch_to(x: torch.Tensor, y: torch.Tensor | None, idx: slice, device: torch.device,
             transform: Transform | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Rows ``idx`` of ``x`` (moved to ``device``, then transformed) and of ``y``."""
    xb = x[idx].to(device)
    xb = transform(xb) if transform is not None else xb
    return xb, None if y is None else y[idx].to(device)


def _log_mean_exp_chunked(model: VAE, x: torch.Tensor, y: torch.Tensor | None, k: int, samples: int,
                          seed: int, start: int, common_noise: bool = False) -> torch.Tensor:
    """log (1/K) sum_k exp(w_k) per example, over sample chunks with a running log-sum-exp: ``(B,)``."""
    acc = torch.full((x.shape[0],), -math.inf, dtype=torch.float64, device=x.device)  # (B,)
    for j in range(0, k, samples):
        s = min(samples, k - j)
        with keyed_noise(seed, IW_STREAM, x.device, start, x.shape[0], j, s, common_noise):
            w = model.log_weights(x, y, s)  # (s, B)
        acc = torch.logaddexp(acc, torch.logsumexp(w.double(), 0))  # (B,)
    return acc - math.log(k)


@torch.inference_mode()
def iw_log_likelihood(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 5000, *,
                      transform: Transform | None = None, seed: int = 0,
                      budget: int = DEFAULT_BUDGET, common_noise: bool = False) -> torch.Tensor:
    """Importance-sampled estimate of log p(x) per example (the IWAE bound, Burda et al. 2015, Eq. 8).

    Args:
        model: any vaekit model (uses its ``log_weights``).
        x: ``(N, *shape)`` data, raw or model-ready (see ``transform``); on any device.
        y: ``(N,)`` labels for conditional models, or None.
        k: importance samples K per example (K=1 gives a one-sample ELBO estimate).
        transform: applied to each chunk of ``x`` after moving it to the model's device
            (e.g. a :class:`~vaekit.data.Preprocessor`).
        seed: seed of the importance samples (the global RNG state is left untouched).
        budget: elements per call, see :func:`plan_chunks`.
        common_noise: every example uses the same K standard-normal draws (common random numbers), so
            an example's estimate depends only on the example, not on its position or neighbours.

    Returns:
        ``(N,)`` float64 CPU tensor of log p(x) estimates in nats (a lower bound in expectation).
    """
    if k < 1:
        raise ConfigError(f"the number of importance samples must be at least 1, got {k}")
    n = x.shape[0]
    out = torch.empty(n, dtype=torch.float64)
    with evaluating(model) as device, task(n, f"importance-sampled log-likelihood (K={k})", "example") as bar:
        width = per_sample_elements(model, *batch_to(x, y, slice(0, 1), device, transform))
        examples, samples = plan_chunks(n, k, width, budget)
        for start in range(0, n, examples):
            idx = slice(start, min(start + examples, n))
            xb, yb = batch_to(x, y, idx, device, transform)
            out[idx] = _log_mean_exp_chunked(model, xb, yb, k, samples, seed, start, common_noise).cpu()
            bar.update(xb.shape[0])
    return out


@torch.inference_mode()
def elbo_per_example(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, *,
                     transform: Transform | None = None, batch_size: int = 1000,
                     seed: int = 0, common_noise: bool = False) -> dict[str, torch.Tensor]:
    """One-sample ELBO terms and posterior means per example (Kingma & Welling 2014, Eq. 7).

    Uses the model's ``elbo_terms`` (the rate against its prior: closed-form KL per latent dimension,
    all stochastic layers, or one Monte Carlo column where it does not factorize) and
    ``encode(x).mean``, whatever the training objective. ``common_noise``: as for
    :func:`iw_log_likelihood`.

    Returns:
        ``log_px (N,)`` (reconstruction term), ``kl (N, Z_total)`` (or ``(N, 1)``) and ``mu (N, Z)``,
        float64 on CPU.
    """
    parts: dict[str, list[torch.Tensor]] = {"log_px": [], "kl": [], "mu": []}
    n = x.shape[0]
    with evaluating(model) as device, task(n, "ELBO per example", "example") as bar:
        for start in range(0, n, batch_size):
            xb, yb = batch_to(x, y, slice(start, min(start + batch_size, n)), device, transform)
            with keyed_noise(seed, ELBO_STREAM, device, start, xb.shape[0], 0, 1, common_noise):
                terms = model.elbo_terms(xb, yb)
            for name, t in (("log_px", terms.log_px), ("kl", terms.kl), ("mu", model.encode(xb, yb).mean)):
                parts[name].append(t.double().cpu())
            bar.update(xb.shape[0])
    return {name: torch.cat(ts) for name, ts in parts.items()}


def model_labels(model: VAE, y: torch.Tensor | None) -> torch.Tensor | None:
    """The labels a model's likelihood bounds take: ``y`` for conditional models (bounds on log p(x | y)),
    None for the others, so a semi-supervised model (m2, m1m2) is scored on log p(x) with its class
    inferred, whatever labels the evaluation data carries."""
    return y if model.conditional else None


@torch.inference_mode()
def elbo_stats(model: VAE, ds: Dataset, pre: Preprocessor, batch_size: int = 1000,
               device: torch.device | str = "cpu") -> dict[str, float]:
    """One-sample negative ELBO and its terms over a dataset, averaged per example (nats).

    Uses ``model.loss`` (the terms the training objective reports); the training loop validates
    with it. Labels reach conditional models only (see :func:`model_labels`). Returns a dict with
    ``nelbo``, ``rate``, ``distortion`` and ``bpd`` (nelbo in bits/dim, or None: see :func:`model_bpd`).
    """
    total = torch.zeros(3, dtype=torch.float64)
    labels = model_labels(model, ds.y)
    with evaluating(model):
        for idx in batch_indices(len(ds), batch_size, shuffle=False):
            x = pre(ds.x[idx].to(device))
            y = None if labels is None else labels[idx].to(device)
            out = model.loss(x, y)
            total += torch.stack([out["nelbo"], out["rate"], out["distortion"]]).double().cpu() * len(idx)
    nelbo, rate, distortion = (total / len(ds)).tolist()
    return {"nelbo": nelbo, "rate": rate, "distortion": distortion,
            "bpd": model_bpd(model, nelbo)}
