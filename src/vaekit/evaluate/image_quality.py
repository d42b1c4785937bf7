"""Full-reference image quality: PSNR and SSIM (Wang et al. 2004) of a batch against a reference.

Both compare images ``(N, C, H, W)`` with values in [0, ``data_range``] and give one value per image;
PSNR also takes flat vectors. SSIM follows Wang et al.'s reference code: local statistics under a
normalized Gaussian window (11 x 11, sigma 1.5) or a uniform one (7 x 7, scikit-image's default),
evaluated where the window fits inside the image ("valid"), with C1 = (0.01 L)^2, C2 = (0.03 L)^2,
population (weighted) variances, averaged over positions and channels. A window larger than the
image shrinks to the largest odd size that fits (8 x 8 digits get 7 x 7).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import DataError

#: Floor of the mean squared error in PSNR: identical images score 10 log10(L^2 / 1e-10) = 100 dB.
MSE_FLOOR = 1e-10
#: SSIM's stabilizing constants relative to the data range (Wang et al. 2004, Eq. 7 and 9).
K1, K2 = 0.01, 0.03
WINDOWS = ("gaussian", "uniform")


def _check_pair(x: torch.Tensor, ref: torch.Tensor) -> None:
    if x.shape != ref.shape:
        raise DataError(f"image quality: shapes differ, {tuple(x.shape)} vs reference {tuple(ref.shape)}")


def psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per example, 10 log10(L^2 / MSE), in dB: ``(N, *shape) -> (N,)``.

    The MSE is averaged over every non-batch dimension and floored at :data:`MSE_FLOOR`.
    """
    _check_pair(x, ref)
    mse = (x.double() - ref.double()).pow(2).flatten(1).mean(1).clamp_min(MSE_FLOOR)  # (N,)
    return 10 * torch.log10(data_range ** 2 / mse)


def window(kind: str, size: int, sigma: float = 1.5) -> torch.Tensor:
    """A normalized 2-D window ``(size, size)`` float64: Gaussian with std ``sigma`` or uniform."""
    if kind == "uniform":
        w = torch.ones(size, dtype=torch.float64)
    elif kind == "gaussian":
        t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
        w = torch.exp(-t.pow(2) / (2 * sigma ** 2))
    else:
        raise DataError(f"SSIM window must be one of {', '.join(WINDOWS)}, got {kind!r}")
    w2 = torch.outer(w, w)
    return w2 / w2.sum()


def ssim(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0, kind: str = "gaussian",
         size: int | None = None, sigma: float = 1.5) -> torch.Tensor:
    """Mean structural similarity per image (Wang et al. 2004, Eq. 13 under a window): ``(N, C, H, W) -> (N,)``.

    Args:
        x, ref: images in [0, ``data_range``].
        kind: "gaussian" (default size 11, ``sigma``) or "uniform" (default size 7).
        size: window side; capped at the largest odd size that fits in the image.
    """
    _check_pair(x, ref)
    if x.dim() != 4:
        raise DataError(f"SSIM needs images (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    size = min(size or (11 if kind == "gaussian" else 7), h - (1 - h % 2), w - (1 - w % 2))
    kernel = window(kind, size, sigma).to(x.device)[None, None].expand(c, 1, size, size)  # (C, 1, k, k)
    filt = lambda t: F.conv2d(t, kernel, groups=c)  # noqa: E731  (N, C, H - k + 1, W - k + 1)
    a, b = x.double(), ref.double()
    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a ** 2
    var_b = filt(b * b) - mu_b ** 2
    cov = filt(a * b) - mu_a * mu_b
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


def quality(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> dict[str, float | None]:
    """Mean PSNR (dB) and mean SSIM of ``x`` against ``ref`` over the batch; SSIM is None for flat data."""
    out: dict[str, float | None] = {"psnr": float(psnr(x, ref, data_range).mean())}
    out["ssim"] = float(ssim(x, ref, data_range).mean()) if x.dim() == 4 and min(x.shape[2:]) >= 3 else None
    return out


def masked_psnr(x: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR over the pixels where ``mask`` (broadcastable to ``x``) is True, per example: ``(N,)``.

    The inpainting score: only the hidden region counts. An example with an empty mask gets NaN.
    """
    _check_pair(x, ref)
    m = mask.expand_as(x).double()
    se = (x.double() - ref.double()).pow(2) * m
    count = m.flatten(1).sum(1)  # (N,)
    mse = (se.flatten(1).sum(1) / count).clamp_min(MSE_FLOOR)
    out = 10 * torch.log10(data_range ** 2 / mse)
    return torch.where(count > 0, out, torch.full_like(out, math.nan))
