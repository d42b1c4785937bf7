"""Shared fixtures: tiny configs and a tiny trained run on the built-in digits."""

from __future__ import annotations

import contextlib
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
    shown by default when stderr is not a terminal); errors (``vaekit: error: ...``), warnings and anything else stay."""
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


@contextlib.contextmanager
def tmpfs(folder: Path, kib: int = 1024):
    """A small tmpfs mounted on ``folder`` while the block runs: a real full disk or (with
    :func:`remount_read_only`) a real read-only file system; root ignores permission bits, so chmod
    cannot make a folder read-only for it. Mounting needs root with CAP_SYS_ADMIN: where it cannot
    mount, the test is skipped."""
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode(errors='replace').strip()[:80]})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def mount_tmpfs():
    """``mount_tmpfs(folder, kib, read_only=False)``: :func:`tmpfs` for the length of one test."""
    with contextlib.ExitStack() as stack:
        def mount(folder: Path, kib: int = 1024, read_only: bool = False) -> Path:
            stack.enter_context(tmpfs(folder, kib))
            if read_only:
                remount_read_only(folder)
            return folder

        yield mount


def remount_read_only(folder: Path) -> None:
    """Make a mounted tmpfs read-only (after filling it)."""
    import subprocess

    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)


def fill_disk(folder: Path) -> None:
    """Use up the free space of the file system holding ``folder`` (a small tmpfs)."""
    import errno

    with open(folder / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
