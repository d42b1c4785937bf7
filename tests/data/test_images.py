"""``images:DIR``: class subfolders, colour modes, resizing and bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.data.conftest import load_error
from tests.data.files import write_image
from vaekit.data import DataConfig, load_data, load_source
from vaekit.data.sources.images import fit_size
from vaekit.errors import ConfigError

RNG = np.random.default_rng(0)


def _gray(h=6, w=5):
    return RNG.integers(0, 256, (h, w), dtype=np.uint8)


def _load(folder, **cfg):
    return load_source(DataConfig(spec=f"images:{folder}", **cfg))


def test_class_subfolders_give_labels_in_sorted_name_order(tmp_path):
    images = {"cat": [_gray(), _gray()], "ant": [_gray()]}
    for name, arrays in images.items():
        for i, a in enumerate(arrays):
            write_image(tmp_path / name / f"{i}.png", a)
    src = _load(tmp_path)
    assert src.extra["classes"] == ["ant", "cat"]
    assert src.train.y.tolist() == [0, 1, 1] and src.train.n_classes == 2
    assert src.train.x.shape == (3, 1, 6, 5) and src.train.x.dtype == torch.uint8 and src.train.max_value == 255
    assert torch.equal(src.train.x[1, 0], torch.from_numpy(images["cat"][0]))  # PNG is lossless


def test_rgb_files_make_rgb_data_and_grayscale_option_forces_one_channel(tmp_path):
    write_image(tmp_path / "a.png", _gray())
    rgb = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    write_image(tmp_path / "b.bmp", rgb)
    write_image(tmp_path / "c.jpg", rgb)
    src = _load(tmp_path)
    assert src.train.y is None and src.train.x.shape == (3, 3, 6, 5)
    assert torch.equal(src.train.x[1], torch.from_numpy(rgb).permute(2, 0, 1))  # BMP is lossless
    assert _load(tmp_path, grayscale=True).train.x.shape == (3, 1, 6, 5)


def test_mixed_sizes_need_image_size(tmp_path):
    write_image(tmp_path / "a.png", _gray(6, 5))
    odd = write_image(tmp_path / "b.png", _gray(9, 12))
    message = load_error(f"images:{tmp_path}")
    assert message.startswith(str(odd)) and "12x9" in message and "data.image_size" in message
    assert _load(tmp_path, image_size=[4, 4]).train.x.shape == (2, 1, 4, 4)


def test_fit_size_resizes_to_cover_then_center_crops():
    from PIL import Image

    a = np.zeros((4, 12), np.uint8)
    a[:, 4:8] = 255  # a bright middle third
    out = np.asarray(fit_size(Image.fromarray(a), (2, 2)))  # 4x12 -> 2x6 -> crop columns 2..3
    assert out.shape == (2, 2) and out.min() > 200
    assert fit_size(Image.fromarray(a), (4, 12)).size == (12, 4)


def test_split_folders_share_the_training_classes(tmp_path):
    for split, names in {"train": ["a", "b"], "test": ["b"]}.items():
        for name in names:
            write_image(tmp_path / split / name / "0.png", _gray())
    splits, _ = load_data(DataConfig(spec=f"images:{tmp_path}", val_fraction=0))
    assert splits.test.y.tolist() == [1] and splits.test.n_classes == 2
    write_image(tmp_path / "test" / "zebra" / "0.png", _gray())
    assert "not among the training classes" in load_error(f"images:{tmp_path}")


def test_bad_image_folders_give_one_line_naming_the_file(tmp_path):
    assert "no PNG/JPG/JPEG/BMP images" in load_error(f"images:{tmp_path}")
    (tmp_path / "empty_class").mkdir()
    write_image(tmp_path / "full_class" / "0.png", _gray())
    assert load_error(f"images:{tmp_path}").startswith(str(tmp_path / "empty_class"))
    (tmp_path / "empty_class" / "bad.png").write_bytes(b"not a png at all")
    assert load_error(f"images:{tmp_path}").startswith(f"{tmp_path / 'empty_class' / 'bad.png'}: unreadable image")
    good = write_image(tmp_path / "empty_class" / "bad.png", _gray(60, 60))
    good.write_bytes(good.read_bytes()[:200])  # truncated PNG
    assert "unreadable image" in load_error(f"images:{tmp_path}")
    assert "not a folder" in load_error(f"images:{good}")


@pytest.mark.parametrize("size", [[0, 4], [4], [4, 4, 4]])
def test_image_size_is_validated(size):
    with pytest.raises(ConfigError, match="image_size"):
        DataConfig(image_size=size)
