"""`vaekit train` end to end in a subprocess, and its one-line errors."""

import subprocess
import sys

import pytest

from ..test_config import RunConfig  # noqa: F401  (config module importable)

def vaekit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "vaekit", *args], capture_output=True, text=True, cwd=cwd, timeout=300)

def test_train_end_to_end(tmp_path):
    out = vaekit("train", "--epochs", "2", "--latent-dim", "3", "--set", "model.net.hidden=[32]",
                 "--out-dir", str(tmp_path), "--name", "e2e", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "test negative ELBO" in out.stdout and "bits/dim" in out.stdout
    run = tmp_path / "e2e"
    for name in ("config.yaml", "model.safetensors", "metrics.jsonl", "reconstructions.png", "samples.png", "loss.png"):
        assert (run / name).is_file()

@pytest.mark.parametrize("args, message", [
    (["--data", "mnist:/definitely/missing"], "no such data folder"),
    (["--preset", "nope"], "unknown preset 'nope'"),
    (["--set", "train.lr=-1"], "train.lr must be a finite positive number"),
    (["--set", "train.lrr=1"], "unknown config key 'train.lrr'"),
    (["--epochs", "ten"], "invalid int value"),
    (["--config", "/missing.yaml"], "cannot read config file"),
    (["--data", "nosuchsource"], "unknown data source 'nosuchsource'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    out = vaekit("train", "--out-dir", str(tmp_path), *args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in out.stderr
    assert not any(tmp_path.iterdir())  # nothing half-written
