"""Per-batch conversion of stored data to model inputs: scale to [0, 1], binarize, standardize.

Dynamic binarization (Burda et al. 2015, IWAE protocol) re-samples x ~ Bernoulli(intensity) every time
a training batch is drawn; evaluation data is binarized once with a fixed seed so numbers are stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import DataError
from .dataset import Dataset

BINARIZE_MODES = ("none", "dynamic", "static")


@dataclass
class Preprocessor:
    """Turns a raw batch (uint8 or float) into the float32 model input.

    Attributes:
        max_value: divisor that maps stored values to [0, 1].
        binarize: "none", "dynamic" (Bernoulli re-sample per training batch) or "static".
        mean, std: per-feature standardization statistics (shape of one example) or None.
    """

    max_value: float = 1.0
    binarize: str = "none"
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor, train: bool = False) -> torch.Tensor:
        """Args: x: ``(B, *sample_shape)`` raw batch. Returns the float32 input of the same shape."""
        x = x.float()
        if self.max_value != 1.0:
            x = x / self.max_value
        if self.binarize == "dynamic" and train:
            x = torch.bernoulli(x)
        if self.mean is not None:
            x = (x - self.mean.to(x.device)) / self.std.to(x.device)
        return x

    def invert(self, x: torch.Tensor) -> torch.Tensor:
        """Map model-space values back to data space (undo standardization)."""
        if self.mean is None:
            return x
        return x * self.std.to(x.device) + self.mean.to(x.device)

    def state(self) -> dict[str, torch.Tensor]:
        """Tensors to save in the run directory (safetensors)."""
        if self.mean is None:
            return {}
        return {"mean": self.mean.contiguous(), "std": self.std.contiguous()}

    @classmethod
    def from_state(cls, max_value: float, binarize: str, state: dict[str, torch.Tensor]) -> "Preprocessor":
        return cls(max_value=max_value, binarize=binarize, mean=state.get("mean"), std=state.get("std"))


def value_range(ds: Dataset, chunk: int = 8192) -> tuple[float, float]:
    """(min, max) of the stored values divided by ``max_value`` (the [0, 1] scale), in chunks."""
    lo, hi = float("inf"), float("-inf")
    for start in range(0, len(ds), chunk):
        x = ds.x[start:start + chunk]
        lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
    return lo / ds.max_value, hi / ds.max_value


def model_batches(ds: Dataset, pre: "Preprocessor", chunk: int = 8192):
    """The examples of ``ds`` as model inputs (evaluation preprocessing), ``chunk`` at a time."""
    for start in range(0, len(ds), chunk):
        yield pre(ds.x[start:start + chunk])


def fit_standardizer(train: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and std over the training set (std floored at 1e-6 for constant features)."""
    x = train.x.float() / train.max_value
    return x.mean(0), x.std(0).clamp_min(1e-6)


def binarize_once(ds: Dataset, seed: int) -> Dataset:
    """A fixed Bernoulli sample of ``ds`` (static binarization).

    Values are stored as ``{0, max_value}`` in the original dtype, so the same preprocessor maps
    train and evaluation batches to {0, 1}.
    """
    g = torch.Generator().manual_seed(seed)
    p = ds.x.float() / ds.max_value
    if p.min() < 0 or p.max() > 1:
        raise DataError(f"{ds.name}: binarization needs values in [0, {ds.max_value}]")
    out = ds.subset(torch.arange(len(ds)))
    out.x = (torch.bernoulli(p, generator=g) * ds.max_value).to(ds.x.dtype)
    return out


def perturb_once(ds: Dataset, rate: float, seed: int) -> Dataset:
    """Replace a random ``rate`` of the input values by uniform noise (Ren et al. 2019, Sec. 3.1).

    Each value is replaced independently with probability ``rate`` by a uniform draw over the data's
    range: integers in [0, max_value] for integer data, [min, max] of each feature for float data.
    Used to train the background model of a likelihood-ratio anomaly score.
    """
    g = torch.Generator().manual_seed(seed)
    x = ds.x
    mask = torch.rand(x.shape, generator=g) < rate  # (N, *shape)
    if x.is_floating_point():
        lo, hi = x.min(0).values, x.max(0).values  # (*shape,)
        noise = lo + (hi - lo) * torch.rand(x.shape, generator=g, dtype=x.dtype)
    else:
        noise = torch.randint(0, int(ds.max_value) + 1, x.shape, generator=g).to(x.dtype)
    out = ds.subset(torch.arange(len(ds)))
    out.x = torch.where(mask, noise, x)
    return out
