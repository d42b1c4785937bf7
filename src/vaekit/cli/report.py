"""``vaekit report``: the run's self-contained HTML report (config, metrics, curves, pictures)."""

from __future__ import annotations

import argparse

from pathlib import Path

from .common import SEED, check_outputs
from .latent_args import add_data_args, open_run


def register(sub) -> None:
    p = sub.add_parser("report", help="write the run's self-contained HTML report")
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--out", metavar="FILE", help="output file (default RUN/report.html)")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="which weights (default best)")
    p.add_argument("--device", default="auto", metavar="DEV", help="auto, cpu or cuda")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the prior samples")
    add_data_args(p)
    p.set_defaults(func=run)


def rewrite_report(run) -> None:
    """Rewrite ``RUN/report.html`` (after a command added results to the run) and say so."""
    from ..report import write_report

    print(f"report updated: {write_report(run)}")


def run(args: argparse.Namespace) -> int:
    from ..latent import load_split
    from ..report import write_report

    check_outputs(Path(args.out) if args.out else Path(args.run) / "report.html")
    r = open_run(args)
    ds = load_split(r, args.data, args.split) if args.data or args.split else None
    print(f"written: {write_report(r, ds, path=args.out)}")
    return 0
