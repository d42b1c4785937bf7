"""A small classifier trained on a dataset's labels, whose hidden layer is the feature space of sample metrics.

The Frechet Inception Distance (Heusel et al. 2017) compares Inception-v3 features of real and
generated images; those weights (ImageNet photographs, 299 x 299 RGB) cannot be downloaded here and
would say little about 28 x 28 digits anyway. As in the "FID on MNIST" of many VAE and GAN papers,
vaekit trains its own small classifier on the data's labels instead and uses its penultimate layer
(128 ReLU units) as the features: a convolutional net for images (two 3 x 3 conv + 2 x 2 max-pool
stages of 16 and 32 channels, then a 128-unit layer) or an MLP (256, 128) for vectors. Its numbers
are comparable only between models evaluated with the same classifier, never with published FIDs.

The classifier is trained once per dataset (Adam 1e-3, batch 128, 3 epochs and at least 1,000 steps,
seeded) on the training
split as the model sees it (model space: scaled to [0, 1], standardized where the data is), with a
fresh Bernoulli draw of every batch when ``binarize`` is "dynamic" (for models of binary images), and
cached as safetensors + JSON under ``$VAEKIT_CACHE/feature-classifiers/`` (default
``~/.cache/vaekit``), keyed by a SHA-256 of the training images, labels and settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Dataset, Preprocessor, batch_indices
from ..device import evaluating
from ..errors import ConfigError, DataError
from ..io import load_tensors, read_json, save_tensors, write_json

log = logging.getLogger(__name__)
FEATURES = 128
BINARIZE = ("none", "dynamic")


@dataclass
class ClassifierConfig:
    """How the feature classifier is trained (part of its cache key).

    Attributes:
        epochs, batch_size, lr, seed: Adam training on the labelled training split.
        min_steps: train for more epochs when ``epochs`` would take fewer steps (small datasets).
        binarize: "none", or "dynamic" (a fresh Bernoulli draw of every batch, for binary-image models).
    """

    epochs: int = 3
    min_steps: int = 1000
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    binarize: str = "none"

    def __post_init__(self) -> None:
        if self.binarize not in BINARIZE:
            raise ConfigError(f"classifier binarize must be one of {', '.join(BINARIZE)}, got {self.binarize!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("classifier epochs and batch size must be at least 1, lr positive")


class FeatureClassifier(nn.Module):
    """``x (B, *shape)`` -> features ``(B, 128)`` (:meth:`features`) -> logits ``(B, n_classes)``."""

    def __init__(self, sample_shape: tuple[int, ...], n_classes: int) -> None:
        super().__init__()
        self.sample_shape, self.n_classes = tuple(sample_shape), n_classes
        if len(sample_shape) == 3:
            c, h, w = sample_shape
            pools = 2 if min(h, w) >= 4 else 0
            self.body = nn.Sequential(
                nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2) if pools else nn.Identity(),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2) if pools else nn.Identity(),
                nn.Flatten())
            width = 32 * (h // 4 if pools else h) * (w // 4 if pools else w)
        else:
            self.body, width = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(sample_shape), 256), nn.ReLU()), 256
        self.hidden = nn.Sequential(nn.Linear(width, FEATURES), nn.ReLU())
        self.out = nn.Linear(FEATURES, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


@dataclass
class TrainedClassifier:
    """A feature classifier and its facts (``accuracy`` on the held-out split, ``path``, ``cached``)."""

    model: FeatureClassifier
    info: dict
    path: Path
    cached: bool


def cache_dir() -> Path:
    """``$VAEKIT_CACHE`` or ``~/.cache/vaekit``."""
    return Path(os.environ.get("VAEKIT_CACHE") or Path.home() / ".cache" / "vaekit").expanduser()


def data_key(train: Dataset, cfg: ClassifierConfig, pre: Preprocessor) -> str:
    """SHA-256 of the training images, labels, preprocessing state and classifier settings."""
    h = hashlib.sha256()
    for t in (train.x, train.y, *pre.state().values()):
        t = t.contiguous().cpu()
        h.update(str((t.dtype, tuple(t.shape))).encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    h.update(json.dumps({**asdict(cfg), "max_value": pre.max_value, "arch": 1}, sort_keys=True).encode())
    return h.hexdigest()


def feature_classifier(train: Dataset, held_out: Dataset | None, pre: Preprocessor, cfg: ClassifierConfig,
                       spec: str = "", folder: Path | None = None) -> TrainedClassifier:
    """The cached classifier of ``train`` (model space via ``pre``), trained now when missing.

    Args:
        train: labelled training split. held_out: split for the reported accuracy (None: none);
            of both, the labelled examples only (label -1 is no class).
        pre: the preprocessor of this data (to model space). spec: the data spec, recorded.
        folder: cache folder (default :func:`cache_dir` / feature-classifiers).
    """
    if train.y is None:
        raise DataError(f"{train.name or 'the data'}: the feature classifier needs labels; evaluate the "
                        "samples against a labelled dataset of the same kind (feature data)")
    train = train.labelled()  # unlabelled examples (-1) are no class
    key = data_key(train, cfg, pre)
    path = (folder or cache_dir() / "feature-classifiers") / f"{key[:24]}.safetensors"
    model = FeatureClassifier(train.sample_shape, int(train.y.max()) + 1)
    if path.is_file() and path.with_suffix(".json").is_file():
        model.load_state_dict(load_tensors(path))
        return TrainedClassifier(model.eval(), read_json(path.with_suffix(".json")), path, True)
    fit_classifier(model, train, pre, cfg)
    accuracy = None
    if held_out is not None and held_out.y is not None and bool((held_out.y >= 0).any()):
        accuracy = classifier_accuracy(model, held_out.labelled(), pre, binarize=cfg.binarize == "dynamic",
                                       seed=cfg.seed)
    info = {"data_spec": spec, "sha256": key, "accuracy": accuracy, "n_train": len(train), **asdict(cfg),
            "features": FEATURES, "sample_shape": list(train.sample_shape)}
    save_tensors(path, model.state_dict())
    write_json(path.with_suffix(".json"), info)
    log.info("feature classifier trained on %d examples (held-out accuracy %s) -> %s", len(train), accuracy, path)
    return TrainedClassifier(model.eval(), info, path, False)


def fit_classifier(model: FeatureClassifier, train: Dataset, pre: Preprocessor, cfg: ClassifierConfig) -> None:
    """Cross-entropy training with Adam; the global RNG state is left untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        model.train()
        for _ in range(max(cfg.epochs, math.ceil(cfg.min_steps / math.ceil(len(train) / cfg.batch_size)))):
            for idx in batch_indices(len(train), cfg.batch_size, shuffle=True):
                x = pre(train.x[idx])
                x = torch.bernoulli(x.clamp(0, 1)) if cfg.binarize == "dynamic" else x
                loss = F.cross_entropy(model(x), train.y[idx].long())
                opt.zero_grad()
                loss.backward()
                opt.step()
    model.eval()


@torch.no_grad()
def classifier_accuracy(model: FeatureClassifier, ds: Dataset, pre: Preprocessor, batch_size: int = 1000,
                        binarize: bool = False, seed: int = 0) -> float:
    """Share of ``ds`` classified correctly (model space via ``pre``; one seeded Bernoulli draw of
    every example when ``binarize``)."""
    correct, gen = 0, torch.Generator().manual_seed(seed)
    for idx in batch_indices(len(ds), batch_size, shuffle=False):
        x = pre(ds.x[idx])
        x = torch.bernoulli(x.clamp(0, 1), generator=gen) if binarize else x
        correct += int((model(x).argmax(1) == ds.y[idx].long()).sum())
    return correct / len(ds)


@torch.no_grad()
def features_of(model: FeatureClassifier, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Features ``(N, 128)`` (float64, CPU) of model-space inputs ``x (N, *shape)`` on any device."""
    with evaluating(model) as device:
        return torch.cat([model.features(x[i:i + batch_size].to(device)).double().cpu()
                          for i in range(0, len(x), batch_size)])
