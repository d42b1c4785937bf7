"""Corruptions of whole batches and the masks of inpainting, drawn on the batch's device.

A corruption maps a model-input batch ``x (B, *shape)`` with values in [0, 1] to a corrupted x~ of the
same shape: Gaussian noise (clipped to [0, 1]), salt and pepper, dropped pixels and occlusion boxes
(the corruptions of denoising autoencoders, Vincent et al. 2010, and of the denoising VAE, Im et al. 2017). They are
what ``train.corrupt`` applies to training batches and ``vaekit denoise`` to evaluation ones; the
masks are also the hidden regions of ``vaekit inpaint``. A pixel is all channels at one position of
an image ``(C, H, W)``; flat vectors ``(D,)`` have one value per pixel (occlusion boxes and the
``half`` mask need images). Every draw is one tensor operation over the batch; ``generator`` (on the
batch's device) seeds it, else torch's global generator of that device does.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch

from ..config import build_strict, used_if
from ..errors import ConfigError

#: Corruption kind -> the name of its one parameter.
KINDS = {"gaussian": "sigma", "salt_pepper": "fraction", "drop": "fraction", "box": "size"}
#: Inpainting mask kinds: a box, the bottom half, random pixels.
MASKS = ("box", "half", "random")


@dataclass
class Corruption:
    """One corruption of input batches in [0, 1] (one entry of ``train.corrupt``).

    Attributes:
        kind: "gaussian" (add N(0, sigma^2) noise, then clip to [0, 1]), "salt_pepper" (a fraction
            of the pixels set to 0 or 1, equally likely), "drop" (a fraction of the pixels set to
            0) or "box" (one square of side ``size`` times the image side per image, at a uniform
            random position, set to 0).
        sigma: standard deviation of the Gaussian noise (data in [0, 1]).
        fraction: share of the pixels hit (salt_pepper, drop), in [0, 1].
        size: side of the occlusion box as a fraction of the image's height and width, in (0, 1].
    """

    kind: str = "gaussian"
    sigma: float = used_if(lambda c: c.kind == "gaussian", default=0.3)
    fraction: float = used_if(lambda c: c.kind in ("salt_pepper", "drop"), default=0.25)
    size: float = used_if(lambda c: c.kind == "box", default=0.5)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown corruption kind {self.kind!r}{_did_you_mean(self.kind, KINDS)} "
                              f"(choices: {', '.join(KINDS)})")
        if not 0 <= self.sigma < math.inf:
            raise ConfigError(f"corruption sigma must be a finite non-negative number, got {self.sigma}")
        if not 0 <= self.fraction <= 1:
            raise ConfigError(f"corruption fraction must lie in [0, 1], got {self.fraction}")
        if not 0 < self.size <= 1:
            raise ConfigError(f"corruption size (box side / image side) must lie in (0, 1], got {self.size}")

    @classmethod
    def __from_dict__(cls, data, path: str) -> "Corruption":
        """A mapping (``{kind: gaussian, sigma: 0.5}``) or a spec string (``"gaussian:0.5"``); errors
        name the entry (``train.corrupt[1]``)."""
        where = path.rstrip(".") or "corruption"
        if isinstance(data, cls):
            return data
        if not isinstance(data, (str, Mapping)):
            raise ConfigError(f"{where}: expected a mapping or a KIND:PARAM string, got {data!r}")
        try:
            return parse_corruption(data) if isinstance(data, str) else build_strict(cls, data, path)
        except ConfigError as exc:
            if where in str(exc):
                raise
            raise ConfigError(f"{where}: {exc}") from None

    @property
    def param(self) -> float:
        """The value of the kind's one parameter."""
        return getattr(self, KINDS[self.kind])

    def __str__(self) -> str:
        return f"{self.kind}:{self.param:g}"


def _did_you_mean(word: str, choices) -> str:
    hint = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


def parse_corruption(spec: str) -> Corruption:
    """``"KIND[:PARAM]"`` -> :class:`Corruption`: ``gaussian:0.5``, ``salt_pepper:0.2``, ``drop:0.5``,
    ``box:0.5`` (PARAM is the kind's sigma, fraction or size; omitted: the default)."""
    kind, sep, raw = spec.strip().partition(":")
    if kind not in KINDS:
        raise ConfigError(f"bad corruption {spec!r}: unknown kind {kind!r}{_did_you_mean(kind, KINDS)} "
                          f"(choices: {', '.join(KINDS)}; e.g. gaussian:0.3)")
    if not sep:
        return Corruption(kind=kind)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"bad corruption {spec!r}: expected a number after '{kind}:' "
                          f"(its {KINDS[kind]}), e.g. {kind}:{Corruption(kind=kind).param:g}") from None
    try:
        return Corruption(kind=kind, **{KINDS[kind]: value})
    except ConfigError as exc:
        raise ConfigError(f"bad corruption {spec!r}: {exc}") from None


def as_corruptions(value) -> list[Corruption]:
    """``train.corrupt`` in any of its forms (None, one entry, a list of entries; an entry is a
    :class:`Corruption`, a mapping or a spec string) -> a list of :class:`Corruption`."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [Corruption.__from_dict__(item, f"train.corrupt[{i}].") for i, item in enumerate(items)]


# --- masks ----------------------------------------------------------------------------------------
def _pixel_shape(x: torch.Tensor) -> tuple[int, ...]:
    """``(B, 1, H, W)`` for images ``(B, C, H, W)``, else the batch's own shape (one value, one pixel)."""
    return (x.shape[0], 1, *x.shape[2:]) if x.dim() == 4 else tuple(x.shape)


def _image_dims(x: torch.Tensor, what: str) -> tuple[int, int]:
    if x.dim() != 4:
        raise ConfigError(f"{what} needs images (C, H, W); these examples have shape {tuple(x.shape[1:])}")
    return x.shape[2], x.shape[3]


def _uniform(shape, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=x.device)


def pixel_mask(x: torch.Tensor, fraction: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each pixel independently with probability ``fraction``: bool ``(B, 1, H, W)`` (images) or ``x``'s shape."""
    return _uniform(_pixel_shape(x), x, generator) < fraction


def box_mask(x: torch.Tensor, size: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """One square per image, side ``round(size * H) x round(size * W)`` at a uniform random position:
    bool ``(B, 1, H, W)``."""
    h, w = _image_dims(x, "an occlusion box")
    bh, bw = max(1, round(size * h)), max(1, round(size * w))
    corner = _uniform((x.shape[0], 2), x, generator)  # (B, 2) -> top, left
    top = (corner[:, :1] * (h - bh + 1)).floor()  # (B, 1)
    left = (corner[:, 1:] * (w - bw + 1)).floor()
    rows = torch.arange(h, device=x.device)[None]  # (1, H)
    cols = torch.arange(w, device=x.device)[None]
    in_rows = (rows >= top) & (rows < top + bh)  # (B, H)
    in_cols = (cols >= left) & (cols < left + bw)  # (B, W)
    return (in_rows[:, :, None] & in_cols[:, None, :])[:, None]  # (B, 1, H, W)


def half_mask(x: torch.Tensor) -> torch.Tensor:
    """The bottom half of every image (rows from floor(H / 2) on): bool ``(B, 1, H, W)``."""
    h, w = _image_dims(x, "the half mask")
    rows = torch.arange(h, device=x.device) >= h // 2  # (H,)
    return rows[None, None, :, None].expand(x.shape[0], 1, h, w)


def inpainting_mask(x: torch.Tensor, kind: str, param: float | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """The hidden region of inpainting (True = hidden): ``box`` (side ``param`` of the image side,
    default 0.5), ``half`` (the bottom half) or ``random`` (each pixel with probability ``param``,
    default 0.5). Returns bool ``(B, 1, H, W)`` for images, else ``x``'s shape."""
    if kind == "box":
        return box_mask(x, 0.5 if param is None else param, generator)
    if kind == "half":
        return half_mask(x)
    if kind == "random":
        return pixel_mask(x, 0.5 if param is None else param, generator)
    raise ConfigError(f"unknown mask {kind!r}{_did_you_mean(kind, MASKS)} (choices: {', '.join(MASKS)})")


# --- the corruptions ---------------------------------------------------------------------------
def _gaussian(x: torch.Tensor, c: Corruption, g: torch.Generator | None) -> torch.Tensor:
    noise = torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)
    return (x + c.sigma * noise).clamp(0, 1)


def _salt_pepper(x: torch.Tensor, c: Corruption, g: torch.Generator | None) -> torch.Tensor:
    u = _uniform(_pixel_shape(x), x, g)  # one draw decides hit (u < f) and colour (u < f / 2: pepper)
    salt = ((u >= c.fraction / 2) & (u < c.fraction)).to(x.dtype)
    return torch.where(u < c.fraction, salt, x)


def _drop(x: torch.Tensor, c: Corruption, g: torch.Generator | None) -> torch.Tensor:
    return x.masked_fill(pixel_mask(x, c.fraction, g), 0.0)


def _box(x: torch.Tensor, c: Corruption, g: torch.Generator | None) -> torch.Tensor:
    return x.masked_fill(box_mask(x, c.size, g), 0.0)


APPLY: dict[str, Callable[[torch.Tensor, Corruption, torch.Generator | None], torch.Tensor]] = {
    "gaussian": _gaussian, "salt_pepper": _salt_pepper, "drop": _drop, "box": _box}


def corrupt(x: torch.Tensor, corruptions: Sequence[Corruption],
            generator: torch.Generator | None = None) -> torch.Tensor:
    """x~: ``x (B, *shape)`` in [0, 1] with each corruption applied in order (a new tensor).

    Args:
        x: a model-input batch; the draws are made on its device.
        corruptions: applied first to last (e.g. a box, then noise over the whole image).
        generator: a generator on ``x``'s device seeding the draws (None: torch's global one).
    """
    for c in corruptions:
        x = APPLY[c.kind](x, c, generator)
    return x


def check_corruptions(corruptions: Sequence[Corruption], sample_shape: tuple[int, ...], standardized: bool) -> None:
    """ConfigError when ``train.corrupt`` cannot apply to examples of ``sample_shape``: boxes need
    images, and every corruption works on the [0, 1] scale, which standardized data is not on."""
    if not corruptions:
        return
    if standardized:
        raise ConfigError("train.corrupt works on inputs scaled to [0, 1] (images); this data is standardized "
                          "(data.standardize), so its values are not on that scale")
    if any(c.kind == "box" for c in corruptions) and len(sample_shape) != 3:
        raise ConfigError(f"train.corrupt: box needs images (C, H, W); these examples have shape {sample_shape}")
