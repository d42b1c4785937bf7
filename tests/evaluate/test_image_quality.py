"""PSNR and SSIM (Wang et al. 2004): closed forms and window statistics computed without convolution."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaekit.errors import DataError
from vaekit.evaluate.image_quality import masked_psnr, psnr, quality, ssim, window

C1, C2 = 0.01 ** 2, 0.03 ** 2


def test_psnr_known_answers():
    x = torch.rand(3, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(psnr(x, x + 0.1), torch.full((3,), 20.0, dtype=torch.float64))
    torch.testing.assert_close(psnr(x * 255, x * 255 + 10, data_range=255), torch.full((3,), 10 * math.log10(255 ** 2 / 100), dtype=torch.float64))
    assert psnr(x, x).tolist() == [100.0] * 3  # the MSE floor: identical images are finite
    half_wrong = x.clone()
    half_wrong[1] += 0.5
    assert psnr(half_wrong, x)[1].item() == pytest.approx(10 * math.log10(1 / 0.25))


def test_masked_psnr_counts_the_hidden_region_only():
    x = torch.zeros(2, 1, 4, 4)
    y = x.clone()
    mask = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    mask[:, :, :2] = True
    y[:, :, :2] = 0.1  # error inside the region: 20 dB there
    y[:, :, 2:] = 0.9  # a large error outside it: ignored
    torch.testing.assert_close(masked_psnr(y, x, mask), torch.full((2,), 20.0, dtype=torch.float64))
    assert math.isnan(masked_psnr(y, x, torch.zeros_like(mask))[0])


def reference_ssim(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    """Mean SSIM of 2-D images over every position where ``w`` fits, from explicit weighted statistics."""
    k = w.shape[0]
    values = []
    for i in range(a.shape[0] - k + 1):
        for j in range(a.shape[1] - k + 1):
            pa, pb = a[i:i + k, j:j + k], b[i:i + k, j:j + k]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * (pa - ma) ** 2).sum(), (w * (pb - mb) ** 2).sum()
            cov = (w * (pa - ma) * (pb - mb)).sum()
            values.append(((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma ** 2 + mb ** 2 + C1) * (va + vb + C2)))
    return float(np.mean(values))


def test_ssim_matches_window_statistics_for_gaussian_and_uniform_windows():
    g = np.random.default_rng(0)
    a = g.random((13, 12))
    b = np.clip(a + 0.2 * g.standard_normal(a.shape), 0, 1)
    t = lambda v: torch.from_numpy(v)[None, None]  # noqa: E731
    t_sigma = np.arange(11) - 5.0
    gauss = np.outer(np.exp(-t_sigma ** 2 / 4.5), np.exp(-t_sigma ** 2 / 4.5))
    gauss /= gauss.sum()
    assert ssim(t(a), t(b)).item() == pytest.approx(reference_ssim(a, b, gauss), rel=1e-10)  # 3 x 2 positions
    uniform = np.full((7, 7), 1 / 49)
    assert ssim(t(a), t(b), kind="uniform").item() == pytest.approx(reference_ssim(a, b, uniform), rel=1e-10)
    np.testing.assert_allclose(window("gaussian", 11).numpy(), gauss, rtol=1e-12)


def test_ssim_closed_forms():
    x = torch.rand(2, 3, 9, 9, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ssim(x, x), torch.ones(2, dtype=torch.float64))
    a, b = torch.full((1, 1, 8, 8), 0.2), torch.full((1, 1, 8, 8), 0.6)  # constant: luminance term only
    assert ssim(a, b).item() == pytest.approx((2 * 0.2 * 0.6 + C1) / (0.2 ** 2 + 0.6 ** 2 + C1))
    assert ssim(x, 1 - x).mean() < 0  # anticorrelated structure scores below zero


def test_small_images_shrink_the_window_and_flat_data_has_no_ssim():
    g = np.random.default_rng(2)
    a, b = g.random((8, 8)), g.random((8, 8))  # an 8 x 8 digit: the 11 x 11 window becomes 7 x 7
    t_sigma = np.arange(7) - 3.0
    gauss = np.outer(np.exp(-t_sigma ** 2 / 4.5), np.exp(-t_sigma ** 2 / 4.5))
    ref = reference_ssim(a, b, gauss / gauss.sum())
    assert ssim(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None]).item() == pytest.approx(ref, rel=1e-10)
    assert quality(torch.rand(4, 10), torch.rand(4, 10))["ssim"] is None
    with pytest.raises(DataError, match="shapes differ"):
        psnr(torch.rand(2, 3), torch.rand(3, 3))
