"""Shared fixtures: tiny configs and a tiny trained run on the built-in digits."""

from __future__ import annotations

import os
from pathlib import Path

# The tests train tiny models, where intra-op threads only add synchronisation; on a busy machine
# oversubscribed OpenMP threads made a digits epoch 60x slower (0.04 s vs 2.7 s, measured).
# Set before torch is imported; CLI subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def error_lines(stderr: str) -> list[str]:
    """The lines of a CLI's stderr without vaekit's informational log lines (``vaekit: <message>``,
    shown by default since issue 19); errors (``vaekit: error: ...``), warnings and anything else stay."""
    info = lambda line: line.startswith("vaekit: ") and not line.startswith(("vaekit: error:", "vaekit: warning:"))  # noqa: E731
    return [line for line in stderr.strip().splitlines() if not info(line)]


def tiny_config(out_dir: Path, **train) -> dict:
    """A run config that trains in about a second on the digits."""
    return {"out_dir": str(out_dir), "name": "tiny",
            "model": {"latent_dim": 4, "net": {"hidden": [32]}},
            "train": {"epochs": 2, "batch_size": 64, "progress": False, **train}}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A run trained for 3 epochs on the digits (shared by read-only tests)."""
    import vaekit

    return vaekit.train(tiny_config(tmp_path_factory.mktemp("runs"), epochs=3))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
