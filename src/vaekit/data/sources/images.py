"""Image folders (PNG, JPEG, BMP): ``images:DIR``.

Layouts: ``DIR/<class>/**/*.png`` (one label per subfolder, classes numbered in sorted name order),
``DIR/*.png`` (no labels), or split folders ``DIR/{train,val|valid,test}/<class>/...`` (classes from
``train``). Images load as one ``(N, C, H, W)`` uint8 tensor (``max_value`` 255): grayscale (C=1)
when every file is grayscale or ``data.grayscale`` is true, RGB (C=3) otherwise (alpha dropped).
Files of different sizes need ``data.image_size: [H, W]``: each image is resized (bilinear,
antialiased) so that it covers H x W, then center-cropped (as torchvision's Resize + CenterCrop).
"""

from __future__ import annotations

import logging
import struct
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ...errors import DataError
from ...limits import MAX_DECODED_PIXELS
from .. import SOURCES, DataConfig
from ..dataset import Dataset, SourceData
from .common import existing_path

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
_FORMATS = "/".join(s[1:].upper() for s in IMAGE_SUFFIXES)
GRAY_MODES = ("1", "L", "LA")
SPLIT_DIRS = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}
#: Decoders used for image folders (a file of another format is an error, whatever its suffix).
_PIL_FORMATS = ("PNG", "JPEG", "BMP")
#: What PIL raises on damaged files (MemoryError: a chunk length in a damaged header asks for gigabytes).
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError, MemoryError)


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    files = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in files if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _subfolders(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def list_images(folder: Path, classes: list[str] | None = None) -> tuple[list[Path], list[int] | None, list[str]]:
    """Image files of ``folder`` with their class ids (None without class subfolders) and class names.

    Args:
        classes: class names fixed elsewhere (the train split); a subfolder outside them is an error.
    """
    dirs = _subfolders(folder)
    if not dirs:
        files = _images_in(folder, recursive=False)
        if not files:
            raise DataError(f"{folder}: no {_FORMATS} images found")
        return files, None, []
    if _images_in(folder, recursive=False):
        log.warning("%s: images beside class subfolders are ignored", folder)
    names = classes if classes is not None else [d.name for d in dirs]
    files, labels = [], []
    for d in dirs:
        if d.name not in names:
            raise DataError(f"{d}: class {d.name!r} is not among the training classes")
        found = _images_in(d, recursive=True)
        if not found:
            raise DataError(f"{d}: class folder holds no {_FORMATS} images")
        files += found
        labels += [names.index(d.name)] * len(found)
    return files, labels, names


def fit_size(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize ``img`` to cover ``size = (H, W)`` keeping its aspect ratio, then center-crop to it."""
    h, w = size
    if (img.height, img.width) == (h, w):
        return img
    scale = max(h / img.height, w / img.width)
    new_w, new_h = max(w, round(img.width * scale)), max(h, round(img.height * scale))
    img = img.resize((new_w, new_h), Image.BILINEAR)
    left, top = (new_w - w) // 2, (new_h - h) // 2
    return img.crop((left, top, left + w, top + h))


def open_image(path: Path, formats: tuple[str, ...] | None = None) -> Image.Image:
    """Open an image file lazily (header only) after checking its size: more than
    :data:`~vaekit.limits.MAX_DECODED_PIXELS` pixels is a DataError before anything is decoded, so a
    small crafted file (a decompression bomb) cannot fill the memory. Unreadable files are DataErrors.

    Args:
        formats: PIL format names to accept (None: any PIL reads).
    """
    try:
        with warnings.catch_warnings():  # PIL's own bomb warning: the check below decides instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path, formats=formats)
    except DECODE_ERRORS as exc:
        raise DataError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None
    if img.width * img.height > MAX_DECODED_PIXELS:
        img.close()
        raise DataError(f"{path}: image of {img.width}x{img.height} pixels is larger than vaekit decodes "
                        f"({MAX_DECODED_PIXELS:,} pixels); shrink it first")
    return img


def decode(path: Path, grayscale: bool | None) -> np.ndarray:
    """One file as ``(H, W)`` (grayscale) or ``(H, W, 3)`` (RGB) uint8; a bad file is a DataError."""
    with open_image(path, _PIL_FORMATS) as img:
        try:
            gray = img.mode in GRAY_MODES if grayscale is None else grayscale
            return np.asarray(img.convert("L" if gray else "RGB"))
        except DECODE_ERRORS as exc:
            raise DataError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None


def _decode_all(files: list[Path], cfg: DataConfig) -> list[np.ndarray]:
    size = None if cfg.image_size is None else tuple(cfg.image_size)
    arrays = []
    for path in files:
        a = decode(path, cfg.grayscale)
        if size is not None:
            mode = "L" if a.ndim == 2 else "RGB"
            a = np.asarray(fit_size(Image.fromarray(a, mode), size))
        elif arrays and a.shape[:2] != arrays[0].shape[:2]:
            raise DataError(f"{path}: image of size {a.shape[1]}x{a.shape[0]} but {files[0].name} is "
                            f"{arrays[0].shape[1]}x{arrays[0].shape[0]} (W x H); set data.image_size to resize")
        arrays.append(a)
    return arrays


def load_images(files: list[Path], labels: list[int] | None, cfg: DataConfig, name: str, n_classes: int) -> Dataset:
    """Decode ``files`` into one uint8 ``(N, C, H, W)`` Dataset."""
    arrays = _decode_all(files, cfg)
    if any(a.ndim == 3 for a in arrays):  # some RGB: every image becomes RGB
        arrays = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in arrays]
    x = np.stack(arrays)  # (N, H, W) or (N, H, W, 3)
    x = torch.from_numpy(x).unsqueeze(1) if x.ndim == 3 else torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    y = None if labels is None else torch.tensor(labels, dtype=torch.int64)
    return Dataset(x=x, y=y, max_value=255.0, n_classes=n_classes if labels is not None else None, name=name)


def _split_folders(folder: Path) -> dict[str, Path] | None:
    """``{split: folder}`` when ``folder`` holds ``train`` plus only val/test folders, else None."""
    dirs = {d.name: d for d in _subfolders(folder)}
    known = {n: split for split, names in SPLIT_DIRS.items() for n in names}
    if "train" not in dirs or len(dirs) < 2 or not set(dirs) <= set(known):
        return None
    return {known[n]: d for n, d in dirs.items()}


def load_image_folder(folder: Path, cfg: DataConfig) -> SourceData:
    """An image folder (see the module docstring) into its splits; class names in ``extra``."""
    splits = _split_folders(folder) or {"train": folder}
    files, labels, classes = list_images(splits["train"])
    out = {"train": load_images(files, labels, cfg, str(splits["train"]), len(classes))}
    for split in ("val", "test"):
        if split in splits:
            files, split_labels, _ = list_images(splits[split], classes if labels is not None else None)
            split_labels = split_labels if labels is not None else None  # unlabelled training data
            out[split] = load_images(files, split_labels, cfg, str(splits[split]), len(classes))
    shapes = {ds.sample_shape for ds in out.values()}
    if len(shapes) > 1:
        raise DataError(f"{folder}: splits have different image shapes {sorted(shapes)}; "
                        "set data.image_size and data.grayscale")
    return SourceData(**out, extra={"classes": classes})


@SOURCES.register("images")
def images_source(arg: str | None, cfg: DataConfig) -> SourceData:
    """``images:DIR``."""
    return load_image_folder(existing_path(arg, "images", "/data/my_images", kind="folder"), cfg)
