"""The procedurally generated shapes data: geometry, determinism, factors, sampler, specs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaekit.data import DataConfig, load_data
from vaekit.data.sources import shapes
from vaekit.data.sources.shapes import (FULL, SMALL, ShapesGeometry, ShapesSampler, make_shapes, parse_spec, render,
                                        sampler_for_spec)
from vaekit.errors import DataError


def full_image_reference(factors: np.ndarray, geometry) -> np.ndarray:
    """The same rasterization evaluated on every pixel of the image (no window): ``(N, S, S)``."""
    s, margin = geometry.image_size, shapes.RADIUS * shapes.EXTENT
    shape_id, scale, angle, px, py = shapes.factor_values(factors, geometry).T
    t = ((np.arange(s) + 0.5) / s).astype(np.float32)
    dx = t[None, None, :] - (margin + px * (1 - 2 * margin))[:, None, None]
    dy = (margin + py * (1 - 2 * margin))[:, None, None] - t[None, :, None]
    r = (scale * shapes.RADIUS)[:, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = (cos * dx + sin * dy) / r, (cos * dy - sin * dx) / r
    out = np.zeros((len(factors), s, s), dtype=np.uint8)
    for k in range(3):
        out |= ((shape_id == k)[:, None, None] & shapes._inside(k, u, v)).astype(np.uint8)
    return out


@pytest.mark.parametrize("geometry", [SMALL, FULL, ShapesGeometry(64, SMALL.factor_sizes)],
                         ids=["small", "full", "small-64px"])
def test_windowed_rendering_equals_full_image_rendering(geometry):
    sizes = np.array(geometry.factor_sizes)
    factors = ShapesSampler(geometry).sample_factors(300, np.random.default_rng(1))
    corners = np.tile(sizes - 1, (4, 1))  # largest shape, last angle, at the four corners
    corners[:, 3:] = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]) * (sizes[3:] - 1)
    factors = np.concatenate([factors, corners])
    assert (render(factors, geometry)[:, 0].numpy() == full_image_reference(factors, geometry)).all()


def test_shapes_small_spec_loads_every_factor_combination():
    splits, pre = load_data(DataConfig(spec="shapes:small", val_fraction=0.1))
    parts = [splits.train, splits.val, splits.test]
    assert sum(len(p) for p in parts) == math.prod(SMALL.factor_sizes) == 30_720
    assert len(splits.test) == 3072
    train = splits.train
    assert train.x.shape[1:] == (1, 32, 32) and train.x.dtype == torch.uint8
    assert set(torch.unique(train.x).tolist()) == {0, 1} and pre.max_value == 1.0
    assert train.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert torch.equal(train.y, train.factors[:, 0]) and train.n_classes == 3
    combos = torch.cat([p.factors for p in parts])
    assert len(torch.unique(combos, dim=0)) == 30_720
    assert (train.x.flatten(1).sum(1) > 0).all()  # no empty image


def test_shapes_count_spec_is_deterministic_from_the_seed():
    a = load_data(DataConfig(spec="shapes:small:600", seed=3))[0]
    b = load_data(DataConfig(spec="shapes:small:600", seed=3))[0]
    c = load_data(DataConfig(spec="shapes:small:600", seed=4))[0]
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.train.factors, b.train.factors)
    assert not torch.equal(a.train.factors, c.train.factors)
    assert len(a.train) + len(a.val) + len(a.test) == 600


def test_full_size_images_and_factor_ranges():
    ds = make_shapes(FULL, 400, seed=0)
    assert ds.x.shape == (400, 1, 64, 64)
    assert (ds.factors.min(0).values >= 0).all()
    assert (ds.factors.max(0).values < torch.tensor(FULL.factor_sizes)).all()


def test_square_area_matches_geometry():
    """An axis-aligned square of half-side 0.8 r covers (1.6 r S)^2 pixels, up to the boundary."""
    factors = torch.tensor([[0, FULL.factor_sizes[1] - 1, 0, 16, 16]])
    side = 1.6 * shapes.RADIUS * 64
    area = render(factors, FULL).sum().item()
    assert abs(area - side**2) <= 4 * side


@pytest.mark.parametrize("factor,measure", [(1, "area"), (3, "x"), (4, "y")])
def test_scale_and_position_factors_move_the_image_monotonically(factor, measure):
    factors = torch.tensor([0, 2, 0, 7, 7]).repeat(SMALL.factor_sizes[factor], 1)
    factors[:, factor] = torch.arange(SMALL.factor_sizes[factor])
    x = render(factors, SMALL)[:, 0].float()  # (n, S, S)
    grid = torch.arange(32.0)
    stat = {"area": x.sum((1, 2)), "x": (x * grid).sum((1, 2)) / x.sum((1, 2)),
            "y": (x * grid[:, None]).sum((1, 2)) / x.sum((1, 2))}[measure]
    assert (stat.diff() > 0).all()


def test_shapes_differ_and_orientation_rotates():
    base = torch.tensor([[0, 5, 0, 16, 16], [1, 5, 0, 16, 16], [2, 5, 0, 16, 16], [1, 5, 10, 16, 16]])
    x = render(base, FULL)[:, 0]
    assert len({tuple(img.flatten().tolist()) for img in x}) == 4
    assert torch.equal(x[3], x[1].T)  # ellipse turned by 90 degrees is its transpose about the center


def test_sampler_draws_the_images_of_given_factors():
    ds = make_shapes(SMALL, 50, seed=5)
    sampler = sampler_for_spec("shapes:small:50")
    assert sampler.factor_sizes == SMALL.factor_sizes
    assert torch.equal(sampler.observations(ds.factors.numpy()), ds.x)
    drawn = sampler.sample_factors(1000, np.random.default_rng(0))
    assert drawn.shape == (1000, 5) and (drawn.max(0) == np.array(SMALL.factor_sizes) - 1).all()


def test_image_size_token_renders_the_same_factors_at_another_size():
    sampler = sampler_for_spec("shapes:small:64px")
    assert sampler.geometry == ShapesGeometry(64, SMALL.factor_sizes)
    assert parse_spec("48px") == (ShapesGeometry(48, FULL.factor_sizes), shapes.DEFAULT_DRAWS)
    factors = sampler.sample_factors(200, np.random.default_rng(2))
    big, small = sampler.observations(factors), ShapesSampler(SMALL).observations(factors)
    assert big.shape == (200, 1, 64, 64)
    ratio = big.flatten(1).sum(1).double() / small.flatten(1).sum(1).double()  # (200,) area ratios
    assert ((ratio > 3) & (ratio < 5.5)).all()  # the same shapes, twice as wide


@pytest.mark.parametrize("spec", ["shapes:big", "shapes:0", "shapes:grid:100", "shapes:small:-5", "shapes:8px",
                                  "shapes:px"])
def test_bad_shapes_specs_are_data_errors(spec):
    with pytest.raises(DataError, match="shapes"):
        load_data(DataConfig(spec=spec))


def test_sampler_rejects_other_data_and_bad_factors():
    with pytest.raises(DataError, match="no ground-truth factors"):
        sampler_for_spec("digits")
    with pytest.raises(DataError, match="factor indices"):
        ShapesSampler(SMALL).observations(np.array([[0, 0, 0, 16, 0]]))
