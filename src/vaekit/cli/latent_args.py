"""Arguments shared by the latent-space subcommands (sample, reconstruct, interpolate, traverse, ...)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..errors import ConfigError


def indices(text: str) -> list[int]:
    """argparse type: ``"3,17,42"`` -> ``[3, 17, 42]``."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_run_args(p: argparse.ArgumentParser, out_name: str) -> None:
    """RUN, --weights, --device, --seed and --out (default ``RUN/latent/<out_name>``)."""
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="which weights (default best)")
    p.add_argument("--device", default="auto", metavar="DEV", help="auto, cpu or cuda")
    p.add_argument("--seed", type=int, default=0, help="seed of random draws and random item choices")
    p.add_argument("--out", metavar="FILE", help=f"output file (default RUN/latent/{out_name})")
    p.set_defaults(out_name=out_name)


def add_data_args(p: argparse.ArgumentParser, items: int | None = None) -> None:
    """--data and --split; with ``items``, also --indices and --n (random items, default ``items``)."""
    p.add_argument("--data", metavar="SPEC", help="data spec (default: the run's own data)")
    p.add_argument("--split", choices=["train", "val", "test"], help="data split (default test, else val, else train)")
    if items is not None:
        p.add_argument("--indices", type=indices, metavar="I,J,..", help="items to use (positions in the split)")
        p.add_argument("--n", type=int, default=items, help=f"number of random items (default {items})")


def add_label_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--label", type=int, metavar="K", help="class to generate (conditional models only)")


def open_run(args: argparse.Namespace):
    """The run named on the command line, on ``--device``, with the random seed set."""
    from ..device import resolve_device
    from ..run import open_run as _open

    torch.manual_seed(args.seed)
    return _open(args.run, args.weights, resolve_device(args.device))


def split(args: argparse.Namespace, run):
    """The dataset chosen by --data and --split."""
    from ..latent import load_split

    return load_split(run, args.data, args.split)


def items(args: argparse.Namespace, run, ds, chosen: list[int] | None = None):
    """Model inputs and labels of the items ``chosen``, else those of --indices, else --n random ones."""
    from ..latent import batch, choose

    if chosen is None:
        chosen = args.indices
    return batch(run, ds, choose(ds, chosen, getattr(args, "n", 1), args.seed))


def out_path(args: argparse.Namespace) -> Path:
    """--out, or ``RUN/latent/<default name>``."""
    return Path(args.out) if args.out else Path(args.run) / "latent" / args.out_name


def check_positive(**values: int | float) -> None:
    for name, value in values.items():
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
