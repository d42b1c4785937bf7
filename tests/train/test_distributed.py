"""Two processes with gloo on CPU reach the weights of one process with the same global batch, through
the real ``torchrun -m vaekit train`` path; rank 0 alone writes the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vaekit.distributions import noise_source
from vaekit.io import load_tensors
from vaekit.run import build_from_run, load_config, read_info
from vaekit.train.distributed import Dist, shard

from .ddp_worker import main, zeros

WORKER = Path(__file__).with_name("ddp_worker.py")
# 1528 training digits - 248 validation = 1280 = 5 global batches of 256 (128 per process): no padding.
ARGS = ["train", "--data", "digits", "--set", "data.val_fraction=0.1623", "--latent-dim", "4",
        "--set", "model.net.hidden=[32]", "--batch-size", "256", "--epochs", "1", "--lr", "3e-3", "--quiet"]
#: Stated tolerance: after 5 Adam steps the weights agree to 1e-5 absolute (summation order differs).
ATOL = 1e-5


def test_shards_interleave_into_the_global_batches():
    order = torch.randperm(10)
    parts = [shard(order, Dist(rank=r, world=2)) for r in range(2)]
    assert torch.equal(torch.stack(parts, 1).reshape(-1), order)  # batch k of both ranks = chunk k
    padded = [shard(order[:9], Dist(rank=r, world=2)) for r in range(2)]
    assert [len(p) for p in padded] == [5, 5]


def test_two_gloo_processes_equal_one_process(tmp_path):
    with noise_source(zeros):
        assert main([*ARGS, "--out-dir", str(tmp_path), "--name", "single"]) == 0
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(WORKER),
           *ARGS, "--out-dir", str(tmp_path), "--name", "ddp"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("run: ") == 1  # only rank 0 prints
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "single"]  # only rank 0 writes
    one, two = (load_tensors(tmp_path / name / "model.safetensors") for name in ("single", "ddp"))
    torch.manual_seed(0)  # the initial weights (train.seed 0)
    start = build_from_run(load_config(tmp_path / "single"), read_info(tmp_path / "single")).state_dict()
    moved = max((one[k] - start[k]).abs().max().item() for k in one)
    gap = max((two[k] - one[k]).abs().max().item() for k in one)
    print(f"max |w_ddp - w_single| = {gap:.2e}; max |w_single - w_init| = {moved:.2e}")
    assert gap <= ATOL < moved / 100
    rows = [json.loads((tmp_path / n / "metrics.jsonl").read_text()) for n in ("single", "ddp")]
    assert rows[0]["step"] == rows[1]["step"] == 5
    assert rows[1]["train_nelbo"] == pytest.approx(rows[0]["train_nelbo"], rel=1e-5)
    assert rows[1]["val_nelbo"] == pytest.approx(rows[0]["val_nelbo"], rel=1e-5)
