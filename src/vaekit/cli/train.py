"""``vaekit train``: train a model and write its run directory."""

from __future__ import annotations

import argparse
import sys

from .common import add_config_args, overrides_from_args


def register(sub) -> None:
    p = sub.add_parser("train", help="train a VAE (default: MLP VAE on the built-in digits)")
    add_config_args(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.api import train
    from ..train.config import build_run_config

    overrides = overrides_from_args(args)
    if args.quiet:
        overrides.append(("train.progress", False))
    cfg = build_run_config(args.preset, args.config, overrides)
    result = train(cfg)
    last = result.info
    print(f"run: {result.path}")
    print(f"epochs: {last['epochs_done']}  best epoch: {last['best_epoch']}")
    if "test" in last:
        t = last["test"]
        print(f"test negative ELBO: {t['nelbo']:.2f} nats (rate {t['rate']:.2f}, distortion {t['distortion']:.2f}), "
              f"{t['bpd']:.4f} bits/dim")
    sys.stdout.flush()
    return 0
