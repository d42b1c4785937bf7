"""Device, precision and memory-format choices shared by training, evaluation and sampling.

Every command that runs a model resolves its ``--device`` with :func:`resolve_device`, so "auto",
"cpu", "cuda" and "cuda:N" mean the same thing everywhere; under ``torchrun`` each process takes the
GPU of its local rank.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch
from torch import nn

from .errors import ConfigError

PRECISIONS = ("fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")


def device_of(module: nn.Module) -> torch.device:
    """The device of a module's parameters (CPU for a module without any)."""
    param = next(module.parameters(), None)
    return torch.device("cpu") if param is None else param.device


@contextlib.contextmanager
def evaluating(module: nn.Module) -> Iterator[torch.device]:
    """Eval mode for the block (the previous mode is restored afterwards); yields the module's device."""
    was_training = module.training
    module.eval()
    try:
        yield device_of(module)
    finally:
        module.train(was_training)


def check_device_name(name: str, what: str = "device") -> None:
    """Raise a :class:`ConfigError` unless ``name`` is auto, cpu, cuda or cuda:N."""
    if isinstance(name, str) and (name in DEVICES or (name.startswith("cuda:") and name[5:].isdigit())):
        return
    raise ConfigError(f"{what} must be auto, cpu or cuda[:N], got {name!r}")


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> CUDA when available else CPU; "cuda" without a GPU is a clear error.

    Under ``torchrun`` (``LOCAL_RANK`` set) a bare "cuda"/"auto" picks ``cuda:LOCAL_RANK``.
    """
    check_device_name(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but no CUDA GPU is available")
        if name == "cuda":
            name = f"cuda:{int(os.environ.get('LOCAL_RANK', torch.cuda.current_device()))}"
        if int(name[5:]) >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} requested but only {torch.cuda.device_count()} GPU(s) exist")
    return torch.device(name)


def check_precision(precision: str, device: torch.device) -> None:
    """fp16 needs CUDA (it relies on a grad scaler); bf16 needs a GPU that supports it."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("precision fp16 needs a CUDA device (use bf16 or fp32 on CPU)")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"precision bf16 is not supported by {torch.cuda.get_device_name(device)}")


def autocast(device: torch.device, precision: str = "fp32"):
    """Mixed-precision context: a no-op for fp32, else ``torch.autocast`` in bf16/fp16.

    Reductions, exp/log and the losses stay in float32 under autocast (PyTorch's fp32 op list), so
    the ELBO terms keep their precision while matmuls and convolutions run in 16 bits.
    """
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def has_conv2d(model: nn.Module) -> bool:
    return any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules())


def use_channels_last(model: nn.Module, device: torch.device, setting: bool | None) -> bool:
    """Channels-last memory format: on request, or by default for 2-D conv models on CUDA."""
    if setting is None:
        return device.type == "cuda" and has_conv2d(model)
    return setting and has_conv2d(model)


def place_model(model: nn.Module, device: torch.device, channels_last: bool = False) -> nn.Module:
    """Move ``model`` to ``device`` (4-D weights in channels-last format when asked)."""
    if channels_last:
        return model.to(device=device, memory_format=torch.channels_last)
    return model.to(device)


def as_channels_last(x: torch.Tensor) -> torch.Tensor:
    """A ``(B, C, H, W)`` batch in channels-last layout (other ranks unchanged)."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
