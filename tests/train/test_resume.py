"""Exact resume after SIGKILL, and after a kill during a checkpoint write.

A training subprocess is slowed down (a sleep in every step, nothing else changed) so that the test
can kill it partway; ``vaekit train --resume`` then finishes the run from the files alone, and the
final weights must equal, byte for byte, those of a run that was never interrupted.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import vaekit
from vaekit.cli import main
from vaekit.train.checkpoint import CHECKPOINT_DIR, LATEST, load_checkpoint

# Dynamic binarization draws from the global torch RNG every batch, so the RNG state must come back too.
ARGS = ["--data", "digits", "--binarize", "dynamic", "--latent-dim", "4", "--set", "model.net.hidden=[32]",
        "--batch-size", "64", "--epochs", "2", "--seed", "3", "--checkpoint-every", "5", "--quiet"]
CONFIG = {"data": {"spec": "digits", "binarize": "dynamic"},
          "model": {"latent_dim": 4, "net": {"hidden": [32]}},
          "train": {"batch_size": 64, "epochs": 2, "seed": 3, "progress": False}}
WEIGHT_FILES = ("model.safetensors", "best.safetensors")

# Runs the CLI with a sleep in every training step; optionally hangs halfway through the Nth
# checkpoint's trainer.safetensors (after writing half its bytes) and touches a marker file.
SLOW_CLI = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from vaekit.train import checkpoint as ck, loop
    hang_at, marker = int(sys.argv[1]), Path(sys.argv[2])
    ctx = loop.Trainer.ctx
    def slow_ctx(self):
        time.sleep(0.02)
        return ctx(self)
    loop.Trainer.ctx = slow_ctx
    write_bytes, calls = ck.write_bytes, []
    def hanging_write(path, data):
        if path.name == "trainer.safetensors":
            calls.append(path)
            if len(calls) == hang_at:
                with open(path, "wb") as fh:
                    fh.write(data[: len(data) // 2])
                marker.touch()
                time.sleep(600)
        return write_bytes(path, data)
    ck.write_bytes = hanging_write
    from vaekit.cli import main
    sys.exit(main(sys.argv[3:]))
""")


def start_slow(tmp_path: Path, hang_at: int = 0) -> tuple[subprocess.Popen, Path, Path]:
    marker = tmp_path / "hanging"
    cmd = [sys.executable, "-c", SLOW_CLI, str(hang_at), str(marker), "train", *ARGS,
           "--out-dir", str(tmp_path), "--name", "killed"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, tmp_path / "killed", marker


def latest_step(run: Path) -> int:
    try:
        return int((run / CHECKPOINT_DIR / LATEST).read_text().split("-")[1])
    except (OSError, IndexError, ValueError):
        return -1


def wait_for(proc: subprocess.Popen, condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"training ended before it could be killed: {proc.communicate()[1][-2000:]}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail("timed out waiting for the training subprocess")
        time.sleep(0.005)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def resume_cli(run: Path) -> None:
    """``vaekit train --resume RUN`` (in this process: a fresh process changes nothing but time)."""
    assert main(["train", "--resume", str(run), "--quiet"]) == 0


def assert_same_run(run: Path, reference: Path) -> None:
    for name in WEIGHT_FILES:
        assert (run / name).read_bytes() == (reference / name).read_bytes(), name
    rows, ref_rows = ([json.loads(line) for line in (p / "metrics.jsonl").read_text().splitlines()]
                      for p in (run, reference))
    drop = lambda row: {k: v for k, v in row.items() if k != "seconds"}  # noqa: E731  (wall time differs)
    assert [drop(r) for r in rows] == [drop(r) for r in ref_rows]
    assert json.loads((run / "run.json").read_text())["status"] == "finished"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The same run, never interrupted (in this process)."""
    out = tmp_path_factory.mktemp("reference")
    return vaekit.train({**CONFIG, "out_dir": str(out), "name": "reference"}).path


def test_sigkill_then_resume_is_bit_identical(tmp_path, reference):
    proc, run, _ = start_slow(tmp_path)
    wait_for(proc, lambda: latest_step(run) >= 30)  # mid-way through epoch 2 (26 steps per epoch)
    time.sleep(0.03)  # between two checkpoints: the steps after the last one are lost and redone
    kill(proc)
    killed_at = latest_step(run)
    assert 30 <= killed_at < 52
    assert json.loads((run / "run.json").read_text())["status"] == "running"
    resume_cli(run)
    assert_same_run(run, reference)


def test_kill_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, reference):
    proc, run, marker = start_slow(tmp_path, hang_at=3)
    wait_for(proc, marker.exists)
    kill(proc)
    folder = run / CHECKPOINT_DIR
    partial = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert len(partial) == 1  # the half-written checkpoint is there, but nothing points at it
    ckpt = load_checkpoint(run)
    assert ckpt.meta["state"]["step"] == 10  # the 2nd checkpoint (every 5 steps) is in force
    resume_cli(run)
    assert not partial[0].exists()  # cleaned up once a newer checkpoint is complete
    assert_same_run(run, reference)
