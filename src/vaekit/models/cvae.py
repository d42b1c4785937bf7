"""Conditional VAE (Sohn et al. 2015; Kingma et al. 2014, model M2 with observed labels).

Class labels condition both networks: q(z | x, y) and p(x | z, y), with the prior p(z) = N(0, I)
independent of y. The label enters as a one-hot vector or a learned embedding, concatenated to the
encoder features (after the MLP/conv body) and to the decoder input z, so MLP and conv bodies alike
are conditioned. ``sample(n, y=7)`` generates sevens. All bounds are conditional: log p(x | y).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..device import device_of
from ..errors import ConfigError, DataError
from .base import MODELS, VAE, ModelConfig

LABEL_ENCODINGS = ("onehot", "embedding")


@dataclass
class CVAEConfig(ModelConfig):
    """Conditional VAE options.

    Attributes:
        label_encoding: "onehot" (c = n_classes) or "embedding" (a learned table, c = embed_dim).
        embed_dim: embedding width for ``label_encoding: embedding``.
    """

    name: str = "cvae"
    label_encoding: str = "onehot"
    embed_dim: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.label_encoding not in LABEL_ENCODINGS:
            raise ConfigError(f"model.label_encoding must be one of {', '.join(LABEL_ENCODINGS)}, "
                              f"got {self.label_encoding!r}")
        if self.embed_dim < 1:
            raise ConfigError(f"model.embed_dim must be positive, got {self.embed_dim}")


@MODELS.register("cvae")
class CVAE(VAE):
    """The VAE with labels fed to the encoder and the decoder (the ``condition`` hook)."""

    Config = CVAEConfig
    conditional = True

    def build(self) -> None:
        if not self.n_classes or self.n_classes < 2:
            raise ConfigError(f"model {self.config.name!r} needs labelled data with at least 2 classes "
                              f"(the data has n_classes={self.n_classes})")
        if self.config.label_encoding == "embedding":
            self.label_embedding = nn.Embedding(self.n_classes, self.config.embed_dim)
        super().build()

    @property
    def cond_dim(self) -> int:
        return self.config.embed_dim if self.config.label_encoding == "embedding" else self.n_classes

    def condition(self, y: torch.Tensor | None) -> torch.Tensor:
        """Labels ``(B,)`` int in [0, n_classes) -> conditioning vectors ``(B, c)``."""
        return self.label_vectors(self.check_labels(y))

    def label_vectors(self, y: torch.Tensor) -> torch.Tensor:
        """Valid labels ``(...)`` (unchecked) -> conditioning vectors ``(..., c)``."""
        if self.config.label_encoding == "embedding":
            return self.label_embedding(y)  # (..., embed_dim)
        return F.one_hot(y, self.n_classes).to(self.label_dtype)  # (..., n_classes)

    def check_labels(self, y: torch.Tensor | None) -> torch.Tensor:
        """Validate labels: present, integer, one per example, within [0, n_classes)."""
        name = self.config.name
        if y is None:
            raise DataError(f"model {name!r} needs class labels y (the data has none, or none were passed)")
        if y.is_floating_point() or y.dtype == torch.bool:
            raise DataError(f"class labels must be integers, got dtype {y.dtype}")
        if y.dim() != 1:
            raise DataError(f"class labels must have shape (B,), got {tuple(y.shape)}")
        if torch.compiler.is_compiling():  # the range check reads y on the host: not inside a compiled graph
            return y.long()
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= self.n_classes:
            hint = " (-1 marks an unlabelled example: train a semi-supervised model, m2 or m1m2)" if lo == -1 else ""
            raise DataError(f"class labels must lie in [0, {self.n_classes - 1}], found {lo}..{hi}{hint}")
        return y.long()

    @property
    def label_dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | list | None = None, temperature: float = 1.0,
               mean: bool = True, prior=None) -> torch.Tensor:
        """``n`` draws of class ``y``: an int (all the same class) or ``n`` labels; required."""
        return super().sample(n, y=self.sample_labels(n, y), temperature=temperature, mean=mean, prior=prior)

    def sample_labels(self, n: int, y: torch.Tensor | int | list | None) -> torch.Tensor:
        """The ``(n,)`` labels to generate: ``y`` as an int (all the same class) or ``n`` labels."""
        if y is None:
            raise DataError(f"{self.config.name}.sample needs the classes to generate: y=<int> or y=<n labels>")
        y = torch.as_tensor(y, device=device_of(self))
        if y.dim() == 0:
            y = y.expand(n)
        if y.shape != (n,):
            raise DataError(f"{self.config.name}.sample: expected {n} labels, got shape {tuple(y.shape)}")
        return y
