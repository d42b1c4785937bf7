"""Counter-based Gaussian noise: each value is a pure function of (key, draw, example, sample, unit).

Importance sampling in chunks draws noise for a block of (samples x examples) at a time. With
torch's sequential generator the values an example receives depend on the block it falls in, so a
different chunking gives a different Monte Carlo draw. Here the noise of example ``i``, sample
``j``, unit ``u`` of the ``l``-th ``rsample`` call is hashed from those integers (SplitMix64,
Steele et al. 2014) and mapped to N(0, 1) with the Box-Muller transform (Box & Muller 1958), so any chunking of the
same examples and samples gives the same numbers, on any device.
"""

from __future__ import annotations

import math

import torch

_MASK = (1 << 64) - 1


def _signed(value: int) -> int:
    """A 64-bit pattern as the signed int64 that torch stores."""
    value &= _MASK
    return value - (1 << 64) if value >= 1 << 63 else value


_GOLDEN, _MIX1, _MIX2 = (_signed(c) for c in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))


def _shr(z: torch.Tensor, n: int) -> torch.Tensor:
    """Logical right shift of int64 bit patterns."""
    return (z >> n) & ((1 << (64 - n)) - 1)


def splitmix64(z: torch.Tensor) -> torch.Tensor:
    """The SplitMix64 finalizer of ``z + golden`` on int64 tensors (wrapping arithmetic)."""
    z = z + _GOLDEN
    z = (z ^ _shr(z, 30)) * _MIX1
    z = (z ^ _shr(z, 27)) * _MIX2
    return z ^ _shr(z, 31)


def _uniform32(bits: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """32-bit integers (held in int64) as uniforms in (0, 1]."""
    return (bits.to(dtype) + 0.5) * 2.0 ** -32


def hashed_normal(key: torch.Tensor, n_units: int, dtype: torch.dtype) -> torch.Tensor:
    """Standard normals ``(*key.shape, n_units)`` hashed from (key[r], u).

    One SplitMix64 hash per pair of units gives two 32-bit uniforms, and the Box-Muller transform
    turns them into two independent normals (the cosine and sine branches).
    """
    pairs = torch.arange((n_units + 1) // 2, device=key.device, dtype=torch.int64) * _GOLDEN
    h = splitmix64(key.unsqueeze(-1) + pairs)  # (..., P)
    work = torch.float64 if dtype == torch.float64 else torch.float32
    radius = torch.sqrt(-2.0 * torch.log(_uniform32(_shr(h, 32), work)))  # (..., P)
    angle = (2.0 * math.pi) * _uniform32(h & 0xFFFFFFFF, work)  # (..., P)
    z = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], -1).flatten(-2)  # (..., 2P)
    return z[..., :n_units].to(dtype)


def mix(key: torch.Tensor | int, value: torch.Tensor | int) -> torch.Tensor:
    """Hash ``value`` into ``key`` (broadcasting int64 tensors)."""
    return splitmix64(torch.as_tensor(key, dtype=torch.int64) + value)


class KeyedNoise:
    """Noise source (see :func:`vaekit.distributions.noise_source`) for one ``log_weights`` call.

    The call covers samples ``first_sample .. first_sample + n_samples`` of examples
    ``first_example .. first_example + n_examples``. A requested shape whose leading dimensions
    multiply to ``n_samples * n_examples`` is read sample-major (``(k, B, ...)`` or ``(k * B, ...)``,
    the layout of :func:`vaekit.models.base.repeat_batch`), so each example and sample gets the same
    values in any chunking. Any other shape gets valid noise keyed by its position in this call.

    Args:
        key: 63-bit key of the seed and the stream.
        first_example, n_examples, first_sample, n_samples: the block this call covers.
        shared: every example gets the noise of example 0 (common random numbers: an example's draws
            then depend on neither its position nor the other examples).
    """

    def __init__(self, key: int, first_example: int, n_examples: int, first_sample: int, n_samples: int,
                 shared: bool = False) -> None:
        self.key, self.n_examples, self.n_samples = key, n_examples, n_samples
        self.first_example, self.first_sample, self.shared = first_example, first_sample, shared
        self.draws = 0

    def __call__(self, shape: tuple, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        draw_key = mix(self.key, self.draws)
        self.draws += 1
        split = _sample_major_split(shape, self.n_samples * self.n_examples)
        if split is None:  # unknown layout: noise keyed by this call's block and the flat position
            rows = mix(mix(draw_key, -1 - self.first_example), self.first_sample)
            return hashed_normal(mix(rows, torch.arange(math.prod(shape), device=device)), 1, dtype).view(shape)
        examples = torch.arange(self.n_examples, device=device) + self.first_example  # (B,)
        if self.shared:
            examples = torch.zeros_like(examples)
        samples = torch.arange(self.n_samples, device=device) + self.first_sample  # (k,)
        rows = mix(mix(draw_key, examples).unsqueeze(0), samples.unsqueeze(1))  # (k, B)
        return hashed_normal(rows, math.prod(shape[split:]), dtype).view(shape)


def _sample_major_split(shape: tuple, rows: int) -> int | None:
    """The index ``i`` with prod(shape[:i]) == rows (the rest is one event), or None."""
    size = 1
    for i, dim in enumerate(shape):
        size *= dim
        if size == rows:
            return i + 1
        if size > rows:
            return None
    return None
