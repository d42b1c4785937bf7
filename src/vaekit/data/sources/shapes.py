"""Procedurally generated shapes with known factors (dSprites-like; Matthey et al. 2017).

Five ground-truth factors, each a finite set of values indexed ``0..size-1``:

    shape        square, ellipse, heart
    scale        linspace(0.5, 1, n) of the largest size
    orientation  n angles evenly spaced in [0, 2 pi)
    pos_x, pos_y linspace(0, 1, n) across the image (shapes stay inside)

Sizes: the full set has 3 x 6 x 40 x 32 x 32 factor values and 64x64 binary images (as dSprites);
the small set has 3 x 4 x 10 x 16 x 16 values and 32x32 images, every factor with at most 20
values so a 20-bin histogram (MIG) separates them. Images are rasterized for a whole batch at once
(one inside-test per pixel and image, no Python loop over pixels) and are a pure function of the
factors, so the data is deterministic from its seed.

Specs: ``shapes`` (64x64, 50,000 draws of random factors), ``shapes:N`` (N draws), ``shapes:small``
(32x32, every factor combination once: 30,720 images), ``shapes:small:N``, ``shapes:grid`` (every
combination of the full set: 737,280 images, 3 GB); a ``Spx`` token renders at S x S instead
(``shapes:small:64px``: the small factor set at dSprites' 64x64). The generation seed is ``data.seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from ...errors import DataError
from .. import SOURCES, DataConfig
from ..dataset import Dataset, SourceData

FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
SHAPE_NAMES = ("square", "ellipse", "heart")
#: Shape radius at scale 1 as a fraction of the image width; every shape fits in 1.2 radii.
RADIUS, EXTENT = 0.15, 1.2
#: Draws of random factors for ``shapes`` (64x64) when the spec gives no count.
DEFAULT_DRAWS = 50_000
#: Fraction of the generated images held out (seeded) as the test split.
TEST_FRACTION = 0.1
_CHUNK = 1024
#: Smallest image side of a ``Spx`` spec token (the smallest shape stays a few pixels wide).
MIN_IMAGE_SIZE = 16


@dataclass(frozen=True)
class ShapesGeometry:
    """Image size and number of values of each factor (in :data:`FACTOR_NAMES` order)."""

    image_size: int
    factor_sizes: tuple[int, int, int, int, int]

    @property
    def n_combinations(self) -> int:
        return math.prod(self.factor_sizes)


FULL = ShapesGeometry(64, (3, 6, 40, 32, 32))
SMALL = ShapesGeometry(32, (3, 4, 10, 16, 16))


def factor_values(factors: np.ndarray, geometry: ShapesGeometry) -> np.ndarray:
    """Factor indices ``(N, 5)`` -> values ``(N, 5)`` float32: shape id, scale, angle (rad), x, y in [0, 1]."""
    sizes = np.array(geometry.factor_sizes, dtype=np.float32)
    f = np.asarray(factors, dtype=np.float32)  # (N, 5)
    scale = 0.5 + 0.5 * f[:, 1] / max(sizes[1] - 1, 1)
    angle = np.float32(2 * math.pi) * f[:, 2] / sizes[2]
    pos = f[:, 3:] / np.maximum(sizes[3:] - 1, 1)  # (N, 2)
    return np.stack([f[:, 0], scale, angle, pos[:, 0], pos[:, 1]], axis=1)


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test in shape coordinates (unit radius, v pointing up): ``(n, S, S)`` bool."""
    if shape == 0:  # square of half-side 0.8
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8
    if shape == 1:  # ellipse with semi-axes 1 and 0.6
        return u * u + (v * v) / 0.36 <= 1.0
    x, y = 1.2 * u, 1.2 * v + 0.15  # heart curve (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0
    x2, y2 = x * x, y * y
    t = x2 + y2 - 1
    return t * t * t <= x2 * y2 * y


def render(factors: np.ndarray | torch.Tensor, geometry: ShapesGeometry) -> torch.Tensor:
    """Rasterize shapes for factor indices ``(N, 5)`` -> binary images ``(N, 1, S, S)`` uint8.

    Each pixel center of a window around the shape is rotated and scaled into the shape's frame
    and tested against the shape's implicit equation, for a chunk of images at a time (numpy:
    single-threaded, so it stays fast on a busy machine).
    """
    factors = np.asarray(factors)
    out = np.zeros((len(factors), 1, geometry.image_size, geometry.image_size), dtype=np.uint8)
    for start in range(0, len(factors), _CHUNK):
        chunk = factors[start:start + _CHUNK]
        _render_chunk(chunk, geometry, out[start:start + len(chunk), 0])
    return torch.from_numpy(out)


def _render_chunk(factors: np.ndarray, geometry: ShapesGeometry, images: np.ndarray) -> None:
    """Draw ``factors (n, 5)`` into ``images (n, S, S)`` (zeros), testing only a window around each shape."""
    s, margin = geometry.image_size, RADIUS * EXTENT
    win = min(s, math.ceil(2 * margin * s) + 2)  # window side in pixels, covers every shape
    shape_id, scale, angle, px, py = factor_values(factors, geometry).T  # (n,) each
    cx, cy = margin + px * (1 - 2 * margin), margin + py * (1 - 2 * margin)  # (n,) centers in [0, 1]
    offsets = np.arange(win)
    left = np.clip(np.round(cx * s - win / 2).astype(np.int64), 0, s - win)  # (n,)
    top = np.clip(np.round(cy * s - win / 2).astype(np.int64), 0, s - win)
    cols, rows = left[:, None] + offsets, top[:, None] + offsets  # (n, win) each
    dx = ((cols + 0.5) / s - cx[:, None]).astype(np.float32)[:, None, :]  # (n, 1, win)
    dy = (cy[:, None] - (rows + 0.5) / s).astype(np.float32)[:, :, None]  # (n, win, 1), up positive
    r = (scale * RADIUS)[:, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = (cos * dx + sin * dy) / r, (cos * dy - sin * dx) / r  # (n, win, win) each
    window = np.zeros(u.shape, dtype=np.uint8)
    for shape in range(len(SHAPE_NAMES)):
        mask = shape_id == shape
        if mask.any():
            window[mask] = _inside(shape, u[mask], v[mask])
    images[np.arange(len(factors))[:, None, None], rows[:, :, None], cols[:, None, :]] = window


class ShapesSampler:
    """Draws shapes images for given factor values: the ground-truth data of the disentanglement metrics.

    Args:
        geometry: :data:`FULL` (64x64) or :data:`SMALL` (32x32).
    """

    factor_names = FACTOR_NAMES

    def __init__(self, geometry: ShapesGeometry = FULL) -> None:
        self.geometry = geometry

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        return self.geometry.factor_sizes

    def sample_factors(self, n: int, random_state: np.random.Generator) -> np.ndarray:
        """``n`` factor index vectors drawn uniformly and independently: ``(n, 5)`` int64."""
        return np.stack([random_state.integers(k, size=n) for k in self.factor_sizes], axis=1)

    def observations(self, factors: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Images ``(n, 1, S, S)`` uint8 in {0, 1} for factor indices ``(n, 5)`` (stored format)."""
        factors = np.asarray(factors, dtype=np.int64)
        if factors.ndim != 2 or factors.shape[1] != len(FACTOR_NAMES):
            raise DataError(f"shapes: factors must have shape (n, 5), got {factors.shape}")
        if (factors < 0).any() or (factors >= np.array(self.factor_sizes)).any():
            raise DataError(f"shapes: factor indices must lie below {self.factor_sizes}")
        return render(factors, self.geometry)


def parse_spec(arg: str | None) -> tuple[ShapesGeometry, int | None]:
    """``small``, ``N``, ``grid``, ``Spx`` tokens of a ``shapes:...`` spec -> (geometry, draws or None for the grid)."""
    geometry, draws, grid, size = FULL, None, False, None
    for token in filter(None, (arg or "").replace(",", ":").split(":")):
        if token == "small":
            geometry = SMALL
        elif token.endswith("px") and token[:-2].isdigit() and int(token[:-2]) >= MIN_IMAGE_SIZE:
            size = int(token[:-2])
        elif token == "grid":
            grid = True
        elif token.isdigit() and int(token) > 0:
            draws = int(token)
        else:
            raise DataError(f"shapes: unknown option {token!r} (use small, grid, a positive count or an image "
                            f"size of at least {MIN_IMAGE_SIZE}px, e.g. shapes:small, shapes:20000, shapes:small:64px)")
    if grid and draws is not None:
        raise DataError("shapes: give either grid or a count, not both")
    if draws is None and not grid and geometry is FULL:
        draws = DEFAULT_DRAWS
    return (geometry if size is None else replace(geometry, image_size=size)), draws


def sampler_for_spec(spec: str) -> ShapesSampler:
    """The sampler matching a data spec such as ``shapes:small``; other sources have no factors."""
    name, _, arg = spec.partition(":")
    if name != "shapes":
        raise DataError(f"data {spec!r} has no ground-truth factors (train on a shapes spec, e.g. shapes:small)")
    return ShapesSampler(parse_spec(arg)[0])


def all_factors(geometry: ShapesGeometry) -> torch.Tensor:
    """Every factor combination once, in row-major order: ``(n_combinations, 5)`` int64."""
    axes = [torch.arange(k) for k in geometry.factor_sizes]
    return torch.cartesian_prod(*axes)


def make_shapes(geometry: ShapesGeometry, draws: int | None, seed: int) -> Dataset:
    """The shapes dataset: ``draws`` random factor vectors (or the full grid when None), rendered."""
    if draws is None:
        factors = all_factors(geometry)
    else:
        sampler = ShapesSampler(geometry)
        factors = torch.from_numpy(sampler.sample_factors(draws, np.random.default_rng(seed)))
    return Dataset(x=render(factors, geometry), y=factors[:, 0].clone(), max_value=1.0,
                   n_classes=len(SHAPE_NAMES), factors=factors, factor_names=FACTOR_NAMES,
                   name=f"shapes{geometry.image_size}")


@SOURCES.register("shapes")
def shapes_source(arg: str | None, cfg: DataConfig) -> SourceData:
    """Binary images ``(N, 1, S, S)`` uint8, labels = shape, ``factors (N, 5)``; seeded 10% test split."""
    geometry, draws = parse_spec(arg)
    full = make_shapes(geometry, draws, cfg.seed)
    perm = torch.randperm(len(full), generator=torch.Generator().manual_seed(cfg.seed + 4321))
    n_test = max(1, int(len(full) * TEST_FRACTION))
    if n_test >= len(full):
        raise DataError(f"shapes: {len(full)} images are too few for a test split")
    return SourceData(train=full.subset(perm[n_test:]), test=full.subset(perm[:n_test]))
