"""Corruptions of batches and inpainting masks: known statistics, exact shapes of boxes, seeding, specs."""

from __future__ import annotations

import pytest
import torch

from vaekit.config import from_dict, to_dict
from vaekit.data.corrupt import (Corruption, as_corruptions, box_mask, check_corruptions, corrupt, half_mask,
                                 inpainting_mask, parse_corruption, pixel_mask)
from vaekit.errors import ConfigError
from vaekit.train.config import TrainConfig


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_gaussian_noise_has_the_asked_std_and_is_clipped():
    x = torch.full((64, 1, 16, 16), 0.5)
    noisy = corrupt(x, [parse_corruption("gaussian:0.1")], gen())
    assert abs(float((noisy - x).std()) - 0.1) < 0.003 and abs(float((noisy - x).mean())) < 0.003
    wild = corrupt(x, [parse_corruption("gaussian:5")], gen())
    assert wild.min() == 0 and wild.max() == 1  # clipped to [0, 1]
    assert torch.equal(corrupt(x, [Corruption(kind="gaussian", sigma=0.0)], gen()), x)


def test_salt_and_pepper_hits_the_fraction_half_white_half_black_across_channels():
    x = torch.full((64, 3, 16, 16), 0.5)
    out = corrupt(x, [parse_corruption("salt_pepper:0.2")], gen())
    hit = out != 0.5  # (N, C, H, W)
    assert torch.equal(hit[:, :1].expand_as(hit), hit)  # a pixel is hit in every channel or in none
    assert abs(float(hit.float().mean()) - 0.2) < 0.01
    assert abs(float((out == 1).float().mean()) - 0.1) < 0.01 and abs(float((out == 0).float().mean()) - 0.1) < 0.01


def test_drop_zeroes_the_fraction_of_pixels():
    out = corrupt(torch.ones(64, 1, 16, 16), [parse_corruption("drop:0.3")], gen())
    assert set(out.unique().tolist()) == {0.0, 1.0}
    assert abs(float((out == 0).float().mean()) - 0.3) < 0.01


def test_box_is_one_square_of_the_asked_side_per_image_anywhere_it_fits():
    x = torch.zeros(500, 1, 10, 8)
    m = box_mask(x, 0.5, gen())[:, 0]  # (N, H, W): 5 x 4 boxes
    assert (m.sum((1, 2)) == 20).all()
    rows, cols = m.any(2), m.any(1)  # (N, H), (N, W)
    assert (rows.sum(1) == 5).all() and (cols.sum(1) == 4).all()  # a solid rectangle: 5 rows x 4 columns
    tops = rows.float().argmax(1)
    assert set(tops.tolist()) == set(range(6))  # every position 0 .. H - 5 occurs
    out = corrupt(torch.ones(500, 1, 10, 8), [Corruption(kind="box", size=0.5)], gen())
    assert ((out == 0).sum((1, 2, 3)) == 20).all()


def test_draws_are_seeded_and_compose_in_order():
    x = torch.rand(8, 1, 8, 8, generator=gen(5))
    pipeline = as_corruptions(["box:0.5", "gaussian:0.2"])
    a, b, c = (corrupt(x, pipeline, gen(s)) for s in (1, 1, 2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    boxed_first = corrupt(x, pipeline, gen(1))
    assert (boxed_first == 0).sum() < (corrupt(x, pipeline[::-1], gen(1)) == 0).sum()  # noise fills the box


def test_flat_vectors_take_pixel_corruptions_but_not_boxes():
    x = torch.full((4, 12), 0.5)
    assert corrupt(x, as_corruptions("drop:1"), gen()).eq(0).all()
    with pytest.raises(ConfigError, match="box needs images"):
        check_corruptions(as_corruptions("box:0.5"), (12,), standardized=False)
    with pytest.raises(ConfigError, match="standardized"):
        check_corruptions(as_corruptions("gaussian:0.1"), (1, 8, 8), standardized=True)
    check_corruptions([], (12,), standardized=True)  # nothing to check without corruption


def test_inpainting_masks():
    x = torch.zeros(3, 1, 7, 4)
    half = half_mask(x)
    assert half.shape == (3, 1, 7, 4) and half[:, :, 3:].all() and not half[:, :, :3].any()
    assert torch.equal(inpainting_mask(x, "half"), half)
    assert inpainting_mask(x, "box", 1.0).all()
    assert abs(float(pixel_mask(torch.zeros(100, 1, 20, 20), 0.25, gen()).float().mean()) - 0.25) < 0.01
    with pytest.raises(ConfigError, match="unknown mask 'hlaf'.*'half'"):
        inpainting_mask(x, "hlaf")


@pytest.mark.parametrize("spec,message", [
    ("gausian:0.3", "unknown kind 'gausian' (did you mean 'gaussian'?)"),
    ("gaussian:x", "expected a number after 'gaussian:'"),
    ("drop:1.5", "fraction must lie in [0, 1]"),
    ("box:0", "size"),
    ("gaussian:-1", "sigma"),
])
def test_bad_specs_are_one_line_errors_naming_the_spec(spec, message):
    with pytest.raises(ConfigError) as err:
        parse_corruption(spec)
    text = str(err.value)
    assert message in text and repr(spec) in text and "\n" not in text


def test_specs_and_defaults():
    assert parse_corruption("salt_pepper:0.2") == Corruption(kind="salt_pepper", fraction=0.2)
    assert parse_corruption("box") == Corruption(kind="box", size=0.5)
    assert str(parse_corruption("gaussian:0.25")) == "gaussian:0.25"


def test_train_corrupt_takes_one_entry_or_a_list_and_round_trips():
    one = from_dict(TrainConfig, {"corrupt": {"kind": "drop", "fraction": 0.4}}, "train.")
    assert one.corrupt == [Corruption(kind="drop", fraction=0.4)]
    assert from_dict(TrainConfig, {"corrupt": "gaussian:0.2"}, "train.").corrupt == [Corruption(sigma=0.2)]
    many = from_dict(TrainConfig, {"corrupt": ["box:0.3", {"kind": "gaussian", "sigma": 0.1}]}, "train.")
    assert [str(c) for c in many.corrupt] == ["box:0.3", "gaussian:0.1"]
    assert from_dict(TrainConfig, to_dict(many), "train.") == many
    assert TrainConfig(corrupt="drop:0.1").corrupt == [Corruption(kind="drop", fraction=0.1)]
    assert TrainConfig().corrupt == []


@pytest.mark.parametrize("value,message", [
    ({"kind": "box", "sizee": 0.3}, "unknown config key 'train.corrupt.sizee' (did you mean 'train.corrupt.size'?)"),
    (["drop:0.1", {"kind": "drop", "fraction": 2}], "train.corrupt[1]: corruption fraction must lie in [0, 1]"),
    ([3], "train.corrupt[0]: expected a mapping or a KIND:PARAM string"),
    ("nosuch", "unknown kind 'nosuch'"),
])
def test_bad_train_corrupt_names_the_key(value, message):
    with pytest.raises(ConfigError) as err:
        from_dict(TrainConfig, {"corrupt": value}, "train.")
    assert message in str(err.value)
