"""``vaekit train``: train a model and write its run directory, or resume one (``--resume RUN``).

Several processes: ``torchrun --nproc_per_node N -m vaekit train ...`` (DDP; rank 0 prints and writes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import history
from .common import CORRUPT_HELP, CORRUPT_METAVAR, Number, add_config_args, check_outputs, corruptions, overrides_from_args

#: training-only flag attribute -> dotted config key
TRAIN_FLAG_KEYS = {"precision": "train.precision", "compile": "train.compile",
                   "checkpoint_every": "train.checkpoint_every", "checkpoint_minutes": "train.checkpoint_minutes",
                   "max_nonfinite": "train.max_nonfinite", "channels_last": "train.channels_last",
                   "corrupt": "train.corrupt"}
CHANNELS_LAST = {"auto": None, "on": True, "off": False}


def register(sub) -> None:
    p = sub.add_parser("train", help="train a VAE (default: MLP VAE on the built-in digits)")
    add_config_args(p)
    p.add_argument("--resume", metavar="RUN",
                   help="continue RUN from its last checkpoint (only train.epochs, train.lr, device and "
                        "checkpoint/guard settings may change)")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"], help="fp32 (default), bf16, fp16 (CUDA)")
    p.add_argument("--compile", action="store_const", const=True, help="torch.compile the loss computation")
    p.add_argument("--channels-last", choices=list(CHANNELS_LAST),
                   help="channels-last memory format for conv models (auto: on CUDA)")
    p.add_argument("--checkpoint-every", type=Number(int, 0), metavar="STEPS", help="also checkpoint every STEPS steps")
    p.add_argument("--checkpoint-minutes", type=Number(float, 0), metavar="MIN",
                   help="also checkpoint every MIN minutes")
    p.add_argument("--max-nonfinite", type=Number(int, 1), metavar="N",
                   help="stop after N consecutive non-finite steps")
    p.add_argument("--corrupt", type=corruptions, metavar=CORRUPT_METAVAR,
                   help="train a denoising VAE on corrupted inputs (train.corrupt): " + CORRUPT_HELP)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..pipeline import resume, train
    from ..train.config import build_run_config
    from ..train.distributed import is_main_process

    if getattr(args, "channels_last", None) is not None:  # other subcommands may reuse run()
        args.channels_last = CHANNELS_LAST[args.channels_last]
    overrides = overrides_from_args(args, TRAIN_FLAG_KEYS)
    args.history_recorded = True  # the library writes this command into run.json's history
    entry = history.entry(args)
    if getattr(args, "resume", None):
        if args.config or args.preset:
            raise ConfigError("--resume takes its config from the run; drop --config/--preset")
        check_outputs(Path(args.resume).expanduser() / "run.json")  # a read-only run: before any work
        result = resume(args.resume, overrides, history=entry)
    else:
        cfg = build_run_config(args.preset, args.config, overrides)
        check_outputs(Path(cfg.out_dir).expanduser() / (cfg.name or "run") / "config.yaml")
        result = train(cfg, history=entry)
    if is_main_process():
        _print_summary(result)
    return 0


def _print_summary(result) -> None:
    last = result.info
    print(f"run: {result.path}")
    print(f"epochs: {last['epochs_done']}  best epoch: {last['best_epoch']}")
    if "test" in last:
        t = last["test"]
        bpd = "" if t.get("bpd") is None else f", {t['bpd']:.4f} bits/dim"
        print(f"test negative ELBO: {t['nelbo']:.2f} nats (rate {t['rate']:.2f}, distortion {t['distortion']:.2f}){bpd}")
    for warning in last.get("warnings", []):
        print(f"warning: {warning}")
    sys.stdout.flush()
