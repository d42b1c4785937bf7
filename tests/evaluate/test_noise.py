"""Counter-based posterior noise: a valid N(0, 1) source whose values depend on (example, sample) only."""

from __future__ import annotations

import torch
from scipy import stats

from vaekit.distributions import DiagonalGaussian, noise_source
from vaekit.evaluate.noise import KeyedNoise, hashed_normal, splitmix64

MASK = (1 << 64) - 1


def splitmix64_reference(z: int) -> int:
    """SplitMix64 (Steele et al. 2014) in Python integers."""
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def test_splitmix64_matches_the_reference_with_wrapping_int64():
    values = [0, 1, 12345, 2 ** 62 + 7, -5, -(2 ** 63)]
    got = splitmix64(torch.tensor(values)).tolist()
    assert [g & MASK for g in got] == [splitmix64_reference(v & MASK) for v in values]


def test_hashed_normals_are_standard_normal_and_uncorrelated():
    z = hashed_normal(torch.arange(400), 501, torch.float64)  # (400, 501)
    assert z.shape == (400, 501)
    assert stats.kstest(z.flatten().numpy(), "norm").pvalue > 1e-3
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1) < 0.01
    assert abs(float((z[:, 0:500:2] * z[:, 1::2]).mean())) < 0.01  # the cosine and sine branches
    assert abs(float((z[:-1] * z[1:]).mean())) < 0.01  # neighbouring rows


def test_each_example_and_sample_gets_the_same_noise_in_any_block():
    whole = KeyedNoise(7, 0, 4, 0, 50)((50, 4, 3), "cpu", torch.float32)  # (k, B, Z)
    part = KeyedNoise(7, 2, 2, 10, 20)((20 * 2, 3), "cpu", torch.float32).view(20, 2, 3)  # (k * B, Z)
    assert torch.equal(whole[10:30, 2:4], part)
    assert not torch.equal(whole, KeyedNoise(8, 0, 4, 0, 50)((50, 4, 3), "cpu", torch.float32))


def test_successive_draws_and_unknown_layouts_get_fresh_valid_noise():
    noise = KeyedNoise(7, 0, 4, 0, 5)
    first, second = noise((5, 4, 3), "cpu", torch.float64), noise((5, 4, 3), "cpu", torch.float64)
    assert not torch.equal(first, second)  # e.g. two stochastic layers
    odd = noise((3, 7), "cpu", torch.float64)  # not a (samples x examples) layout
    assert odd.shape == (3, 7) and torch.isfinite(odd).all()


def test_rsample_uses_the_noise_source_only_inside_the_block():
    q = DiagonalGaussian(torch.zeros(4, 3), torch.zeros(4, 3))
    with noise_source(KeyedNoise(1, 0, 4, 0, 2)):
        z = q.rsample(2)  # (2, 4, 3), unit variance: the noise itself
    assert torch.equal(z, KeyedNoise(1, 0, 4, 0, 2)((2, 4, 3), "cpu", torch.float32))
    torch.manual_seed(0)
    assert torch.equal(q.rsample(2), torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0)))
