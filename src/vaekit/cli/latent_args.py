"""Arguments shared by the latent-space subcommands (sample, reconstruct, interpolate, traverse, ...)."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..limits import MAX_ITEMS
from .common import INT, SEED, Number, check_outputs

#: Items in one picture: 1..MAX_ITEMS.
ITEMS = Number(int, 1, MAX_ITEMS)
#: Items per grid row.
NCOL = Number(int, 1, 1000)


def indices(text: str) -> list[int]:
    """argparse type: ``"3,17,42"`` -> ``[3, 17, 42]`` (each a 64-bit integer, at most MAX_ITEMS of them)."""
    parts = [part for part in text.split(",") if part.strip()]
    if len(parts) > MAX_ITEMS:
        raise argparse.ArgumentTypeError(f"at most {MAX_ITEMS:,} indices, got {len(parts):,}")
    try:
        return [INT(part) for part in parts]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected comma-separated 64-bit integers, got {text[:80]!r}") from None


def add_run_args(p: argparse.ArgumentParser, out_name: str) -> None:
    """RUN, --weights, --device, --seed and --out (default ``RUN/latent/<out_name>``)."""
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="which weights (default best)")
    p.add_argument("--device", default="auto", metavar="DEV", help="auto, cpu or cuda")
    p.add_argument("--seed", type=SEED, default=0, help="seed of random draws and random item choices")
    p.add_argument("--out", metavar="FILE", help=f"output file (default RUN/latent/{out_name})")
    p.set_defaults(out_name=out_name)


def add_data_args(p: argparse.ArgumentParser, items: int | None = None) -> None:
    """--data and --split; with ``items``, also --indices and --n (random items, default ``items``)."""
    p.add_argument("--data", metavar="SPEC", help="data spec (default: the run's own data)")
    p.add_argument("--split", choices=["train", "val", "test"], help="data split (default test, else val, else train)")
    if items is not None:
        p.add_argument("--indices", type=indices, metavar="I,J,..", help="items to use (positions in the split)")
        p.add_argument("--n", type=ITEMS, default=items, help=f"number of random items (default {items})")


def add_label_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--label", type=INT, metavar="K", help="class to generate (models with classes: cvae, m2, m1m2)")


def open_run(args: argparse.Namespace, *outputs):
    """The run named on the command line, on ``--device``, with the random seed set.

    Checks first that ``--out`` (default ``RUN/latent/<name>``) and ``outputs`` can be written, so a
    read-only run folder fails before the model is loaded.
    """
    from ..device import resolve_device
    from ..run import open_run as _open

    if getattr(args, "out_name", None) is not None:
        check_outputs(out_path(args), *outputs)
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

