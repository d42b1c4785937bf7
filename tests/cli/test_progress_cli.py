"""What a user sees while vaekit works, with output to a pipe, a 0-column pty or a terminal;
-v/-q on either side of the subcommand; --version; the run folder's command history."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys

import pytest

import vaekit
from vaekit.cli import build_parser, main

TINY = ["--epochs", "3", "--data", "digits", "--latent-dim", "3", "--set", "model.net.hidden=[32]"]
#: One line per epoch with every figure the issue asks for.
EPOCH_LINE = re.compile(r"vaekit: epoch (\d)/3  nelbo [\d.]+ \(val [\d.]+\)  rate [\d.]+ \(val [\d.]+\)  "
                        r"distortion [\d.]+ \(val [\d.]+\)  kl_weight [\d.]+  skipped 0  [\d.]+ s/epoch  ETA [\d.]+ s")


def epochs_logged(text: str) -> list[int]:
    return [int(m.group(1)) for m in EPOCH_LINE.finditer(text)]


def test_train_through_a_pipe_prints_one_line_per_epoch(tmp_path):
    out = subprocess.run(f"{sys.executable} -m vaekit train {' '.join(TINY)} --out-dir {tmp_path} 2>&1 | cat",
                         shell=True, capture_output=True, text=True, timeout=300)
    assert epochs_logged(out.stdout) == [1, 2, 3], out.stdout
    assert "test negative ELBO" in out.stdout and "\r" not in out.stdout  # no bar drawn into a pipe


def run_in_pty(argv: list[str], timeout: float = 300) -> str:
    """Run ``argv`` with stdin/stdout/stderr on a new pty that reports 0 columns and 0 rows."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                            env={**os.environ, "COLUMNS": "", "LINES": ""})
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                raise TimeoutError(f"{argv}: no output for {timeout} s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the pty
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait(timeout=60)
    return b"".join(chunks).decode(errors="replace")


def test_train_in_a_zero_column_pty_draws_a_bar_and_logs_each_epoch(tmp_path):
    text = run_in_pty([sys.executable, "-m", "vaekit", "train", *TINY, "--batch-size", "8",
                       "--out-dir", str(tmp_path)])
    assert epochs_logged(text.replace("\r\n", "\n")) == [1, 2, 3], text[-3000:]
    bars = re.findall(r"epoch \d/3: +\d+%\|[^\r\n]*\| *\d+/\d+ \[", text)
    assert bars and all(len(b) < 80 for b in bars), text[-3000:]  # tqdm drew within the fallback width


def test_evaluate_through_a_pipe_shows_nll_progress(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run.path, tmp_path / "run")
    out = subprocess.run([sys.executable, "-m", "vaekit", "evaluate", str(run), "--iw-samples", "50",
                          "--heartbeat", "0", "--budget", "20000", "--no-probe"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    beats = re.findall(r"importance-sampled log-likelihood \(K=50\): (\d+)/(\d+) examples", out.stderr)
    assert len(beats) >= 3 and beats[-1][0] == beats[-1][1], out.stderr  # progress all the way through
    assert re.search(r"vaekit: NLL [\d.]+ ± [\d.]+ nats in", out.stderr)
    assert "negative ELBO" in out.stdout and "vaekit:" not in out.stdout  # logs on stderr, results on stdout


@pytest.mark.parametrize("argv", [["-q", "train"], ["train", "-q"], ["train", "--quiet"]])
def test_quiet_before_or_after_the_subcommand(argv):
    args = build_parser().parse_args(argv)
    assert args.quiet is True and args.verbose is False


def test_verbose_and_heartbeat_after_the_subcommand():
    args = build_parser().parse_args(["evaluate", "RUN", "-v", "--heartbeat", "5"])
    assert args.verbose is True and args.heartbeat == 5.0 and args.quiet is False
    assert build_parser().parse_args(["-v", "runs"]).verbose is True


def test_quiet_keeps_only_the_summary(tmp_path, capsys):
    assert main(["train", *TINY[:2], "--set", "model.net.hidden=[16]", "--out-dir", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr()
    assert out.err == "" and "test negative ELBO" in out.out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith(f"vaekit {vaekit.__version__} (torch ")


def test_run_json_tells_the_runs_history(tmp_path, capsys):
    assert main(["train", *TINY[:2], "--set", "model.net.hidden=[16]", "--out-dir", str(tmp_path),
                 "--name", "h", "-q"]) == 0
    run = tmp_path / "h"
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["evaluate", str(run), "--iw-samples", "5", "--no-probe"]) == 0
    assert main(["train", "--resume", str(run), "--epochs", "4", "-q"]) == 0
    assert main(["evaluate", "/no/such/run"]) == 2  # failures leave no trace
    history = json.loads((run / "run.json").read_text())["history"]
    assert [h["command"] for h in history] == ["train", "sample", "evaluate", "train"]
    assert history[0]["argv"][:3] == ["train", "--epochs", "3"] and history[0]["via"] == "cli"
    assert history[1]["argv"] == ["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")]
    assert history[3]["argv"][:2] == ["train", "--resume"]
    assert all(h["started"].endswith("+00:00") for h in history) and history[2]["seconds"] > 0
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["epochs_done"] == 4  # training kept the history it found


def test_python_api_runs_are_recorded_too(tmp_path):
    from ..conftest import tiny_config

    run = vaekit.train(tiny_config(tmp_path, epochs=1))
    history = json.loads((run.path / "run.json").read_text())["history"]
    assert [(h["command"], h["via"], h["argv"]) for h in history] == [("train", "python", None)]


def test_cli_sample_and_model_sample_agree_on_decoder_means():
    import inspect

    from vaekit import latent
    from vaekit.models import VAE

    assert build_parser().parse_args(["sample", "RUN"]).mean is True
    assert build_parser().parse_args(["sample", "RUN", "--draws"]).mean is False
    assert inspect.signature(VAE.sample).parameters["mean"].default is True
    assert inspect.signature(latent.sample).parameters["mean"].default is True
