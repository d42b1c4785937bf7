"""Run folders (``vaekit.run``): one trainer per run, names inside ``out_dir``, race-free names,
files colleagues can read, tampered records refused, leftovers of killed writers removed."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

import vaekit
from vaekit.cli import main
from vaekit.errors import CheckpointError, ConfigError
from vaekit.run import lock_run, new_run_dir, open_run, read_info
from vaekit.train.api import resume
from vaekit.train.config import RunConfig

from .conftest import error_lines, tiny_config


def cli(argv, capsys) -> tuple[int, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def test_a_locked_run_cannot_be_resumed(tiny_run, tmp_path, capsys):
    run = Path(shutil.copytree(tiny_run.path, tmp_path / "run"))
    with lock_run(run):  # as another process training it would hold it
        code, err = cli(["train", "--resume", run, "--epochs", "5", "--quiet"], capsys)
    assert code == 2 and len(error_lines(err)) == 1, err
    assert "another vaekit process is training or resuming this run" in err
    assert resume(run, [("train.epochs", 4)]).info["epochs_done"] == 4  # free again


@pytest.mark.slow
def test_a_run_being_resumed_cannot_be_resumed_or_trained_by_a_second_process(tmp_path, capsys):
    run = vaekit.train(tiny_config(tmp_path, epochs=1)).path
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "vaekit", "train", "--resume", str(run), "--epochs", "400",
                              "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not _locked(run) and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        assert _locked(run), "the first resume never took the run's lock"
        code, err = cli(["train", "--resume", run, "--epochs", "500", "--quiet"], capsys)
        assert code == 2 and len(error_lines(err)) == 1, err
        assert "another vaekit process is training or resuming this run" in err and str(run) in err
    finally:
        first.terminate()
        first.wait(60)
    # the first process's checkpoints are intact: the run resumes from them once it is free
    assert resume(run, [("train.epochs", 2)]).info["epochs_done"] == 2


def _locked(path: Path) -> bool:
    try:
        with lock_run(path):
            return False
    except CheckpointError:
        return True


def test_the_lock_is_held_for_the_whole_training(tmp_path, monkeypatch):
    seen = []
    api = importlib.import_module("vaekit.train.api")  # vaekit.train is also the function

    original = api._fit

    def fit(trainer, path, *args):
        seen.append(_locked(path))
        return original(trainer, path, *args)

    monkeypatch.setattr(api, "_fit", fit)
    run = vaekit.train(tiny_config(tmp_path, epochs=1))
    assert seen == [True] and not _locked(run.path)  # released at the end
    resume(run.path, [("train.epochs", 2)])
    assert seen == [True, True]


@pytest.mark.parametrize("name", ["a/../../b", "../escape", "/tmp/abs", ".."])
def test_a_run_name_never_leaves_out_dir(tmp_path, name, capsys):
    out = tmp_path / "deep" / "runs"
    code, err = cli(["train", "--name", name, "--out-dir", out, "--epochs", "1", "--quiet"], capsys)
    assert code == 2 and "one file or folder name" in err and len(error_lines(err)) == 1
    assert [p for p in tmp_path.rglob("*")] == []  # nothing written anywhere
    with pytest.raises(ConfigError):
        RunConfig(name=name)


def test_the_next_free_name_is_chosen_race_free(tmp_path, monkeypatch):
    """Another process creates ``name`` between the look and the mkdir: we take ``name-2``."""
    cfg = RunConfig(name="exp", out_dir=str(tmp_path))
    real_mkdir = Path.mkdir

    def racing_mkdir(self, *args, **kwargs):
        if self.name == "exp" and not self.exists():
            real_mkdir(self)  # the other process wins the race
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", racing_mkdir)
    assert new_run_dir(cfg) == tmp_path / "exp-2"
    assert new_run_dir(cfg) == tmp_path / "exp-3"


def test_run_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        run = vaekit.train(tiny_config(tmp_path, epochs=1)).path
    finally:
        os.umask(old)
    modes = {str(p.relative_to(run)): stat.S_IMODE(p.stat().st_mode) for p in [run, *run.rglob("*")]}
    assert modes["report.html"] == modes["model.safetensors"] == modes["run.json"] == 0o644
    wrong = {p: oct(m) for p, m in modes.items() if m != (0o755 if (run / p).is_dir() else 0o644)}
    assert not wrong, wrong


def test_leftovers_of_killed_writers_are_removed_when_the_run_is_resumed(tiny_run, tmp_path):
    run = Path(shutil.copytree(tiny_run.path, tmp_path / "run"))
    dead = 2**22 + 4321  # above the default pid_max
    leftovers = [run / f".model.safetensors.{dead}.0123abcd.tmp",
                 run / "checkpoint" / f".step-000000022-89abcdef.{dead}.00ff00ff.tmp",
                 run / "latent" / f".samples.png.{dead}.deadbeef.tmp"]
    (run / "latent").mkdir()
    leftovers[0].write_bytes(b"half")
    leftovers[1].mkdir()
    (leftovers[1] / "model.safetensors").write_bytes(b"half")
    leftovers[2].write_bytes(b"half")
    mine = run / "latent" / f".other.png.{os.getpid()}.01234567.tmp"  # a live writer's: kept
    mine.write_bytes(b"in progress")
    resume(run, [("train.epochs", 4)])
    assert not any(p.exists() for p in leftovers) and mine.exists()


@pytest.mark.parametrize("key, value", [
    ("sample_shape", "1x8x8"), ("sample_shape", [1, 8, -8]), ("sample_shape", [10**6, 10**6]),
    ("max_value", "16"), ("max_value", 0), ("binarize", 3), ("n_classes", "10"), ("n_classes", 10**9),
    ("test", [1, 2]), ("status", 7), ("n_train", -1), ("resumed", "twice"),
])
def test_a_tampered_run_json_is_one_clear_error(tiny_run, tmp_path, key, value):
    run = Path(shutil.copytree(tiny_run.path, tmp_path / "run"))
    info = json.loads((run / "run.json").read_text())
    info[key] = value
    (run / "run.json").write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match=f"run.json.*({key}|n_classes)"):
        read_info(run)
        open_run(run)


def test_a_tampered_config_cannot_make_vaekit_allocate_more_than_the_weights(tiny_run, tmp_path):
    run = Path(shutil.copytree(tiny_run.path, tmp_path / "run"))
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"]["latent_dim"] = 10**8  # 400 x 10**8 weights (160 GB) if it were built
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(CheckpointError, match="weights do not match the config"):
        open_run(run)


def test_tampered_preprocessing_statistics_are_refused(tiny_run, tmp_path):
    from vaekit.io import save_tensors

    run = Path(shutil.copytree(tiny_run.path, tmp_path / "run"))
    save_tensors(run / "preprocess.safetensors", {"mean": torch.zeros(3), "std": torch.ones(3)})
    with pytest.raises(CheckpointError, match="preprocess.safetensors"):
        open_run(run)
