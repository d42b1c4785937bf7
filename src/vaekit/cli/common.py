"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse

from ..config import parse_override
from ..errors import ConfigError
from ..io import check_writable
from ..limits import INT64_MAX, INT64_MIN, MAX_SEED, check_int, check_real


class Number:
    """An argparse ``type`` for a bounded number: ``Number(int, 1, 100)`` accepts integers 1..100.

    Every numeric argument of every subcommand uses one (a test checks it), so no count, seed or
    float reaches the library unchecked: integers fit in 64 bits and floats are finite, whatever
    the bounds. Bad values are argparse's one-line usage errors (exit status 2).

    Attributes:
        kind: ``int`` or ``float``; ``lo``, ``hi``: inclusive bounds (None: none beyond 64 bits /
        finiteness); ``lo_open``: ``lo`` itself is excluded (floats); ``key``: the config key a
        shortcut flag sets, named in its messages.
    """

    def __init__(self, kind: type, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
                 key: str | None = None) -> None:
        self.kind, self.lo, self.hi, self.lo_open, self.key = kind, lo, hi, lo_open, key
        self.__name__ = kind.__name__  # argparse names the type in its messages

    def __call__(self, text: str):
        try:
            value = self.kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected {'an integer' if self.kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        name = self.key or "the value"
        try:
            if self.kind is int:
                return check_int(value, name, INT64_MIN if self.lo is None else self.lo,
                                 INT64_MAX if self.hi is None else self.hi)
            return check_real(value, name, self.lo, self.hi, self.lo_open)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("the value ")) from None

    def __repr__(self) -> str:
        return f"Number({self.kind.__name__}, {self.lo}, {self.hi})"


#: Seeds: integers in [0, 2**63 - 1] (every generator vaekit seeds takes them).
SEED = Number(int, 0, MAX_SEED)
#: Counts of examples per batch.
BATCH = Number(int, 1, 2**24)
#: Any 64-bit integer (positions, labels: checked against the data later).
INT = Number(int)


def corruptions(text: str) -> list:
    """argparse type: a corruption pipeline ``KIND[:PARAM][+KIND[:PARAM]...]`` -> the list of
    :class:`~vaekit.data.corrupt.Corruption` applied in order (``box:0.5+gaussian:0.2``)."""
    from ..data.corrupt import parse_corruption

    try:
        return [parse_corruption(part) for part in text.split("+")]
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: Metavar and help of --corrupt (train and denoise).
CORRUPT_METAVAR = "KIND[:P][+...]"
CORRUPT_HELP = ("gaussian:SIGMA, salt_pepper:FRACTION, drop:FRACTION or box:SIZE (side / image side); "
                "join kinds with + to apply them in order, e.g. box:0.5+gaussian:0.2")


def check_outputs(*paths) -> None:
    """Fail (one OSError naming the path) unless every output path could be written; call it before
    any expensive work so a read-only folder or a folder given as ``--out`` costs nothing."""
    for path in paths:
        if path is not None:
            check_writable(path)


def add_config_args(p: argparse.ArgumentParser) -> None:
    """--config, --preset, --set and the common shortcut flags."""
    p.add_argument("--config", metavar="FILE", help="YAML run config")
    p.add_argument("--preset", metavar="NAME", help="named preset (see `vaekit presets`)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="override a config value, e.g. --set train.lr=3e-4 (repeatable)")
    p.add_argument("--data", metavar="SPEC", help="data source, e.g. digits, mnist:PATH")
    p.add_argument("--model", metavar="NAME", help="registered model name")
    p.add_argument("--epochs", type=Number(int, 1, key="train.epochs"))
    p.add_argument("--batch-size", type=Number(int, 1, BATCH.hi, key="train.batch_size"))
    p.add_argument("--lr", type=Number(float, 0, lo_open=True, key="train.lr"))
    p.add_argument("--seed", type=Number(int, 0, MAX_SEED, key="train.seed"))
    p.add_argument("--latent-dim", type=Number(int, 1, 2**20, key="model.latent_dim"))
    p.add_argument("--likelihood", metavar="NAME")
    p.add_argument("--binarize", choices=["none", "dynamic", "static"])
    p.add_argument("--device", metavar="DEV", help="auto, cpu or cuda")
    p.add_argument("--name", help="run directory name")
    p.add_argument("--out-dir", metavar="DIR", help="parent folder of run directories (default runs)")


#: flag attribute -> dotted config key
FLAG_KEYS = {"data": "data.spec", "model": "model.name", "epochs": "train.epochs",
             "batch_size": "train.batch_size", "lr": "train.lr", "seed": "train.seed",
             "latent_dim": "model.latent_dim", "likelihood": "model.likelihood",
             "binarize": "data.binarize", "device": "train.device", "name": "name", "out_dir": "out_dir"}


def overrides_from_args(args: argparse.Namespace, extra: dict[str, str] | None = None) -> list[tuple[str, object]]:
    """Flag values (when given) followed by --set pairs, in that order of precedence.

    Args:
        extra: a subcommand's own flag attribute -> dotted key pairs, added to :data:`FLAG_KEYS`.
    """
    keys = {**FLAG_KEYS, **(extra or {})}
    pairs = [(key, getattr(args, attr)) for attr, key in keys.items() if getattr(args, attr, None) is not None]
    return pairs + [parse_override(text) for text in args.set]


def add_data_set_arg(p: argparse.ArgumentParser) -> None:
    """--set data.KEY=VALUE: the data options of ``train`` for the data a command reads."""
    p.add_argument("--set", metavar="data.KEY=VALUE", action="append", default=[],
                   help="a data option for --data, as in train, e.g. --set data.label_column=cls (repeatable)")


def data_overrides(args: argparse.Namespace) -> dict:
    """``{key: value}`` of the --set data.KEY=VALUE pairs (keys without the ``data.`` prefix)."""
    from ..config import from_dict
    from ..data import DataConfig
    from ..errors import ConfigError

    out = {}
    for text in getattr(args, "set", []):
        key, value = parse_override(text)
        if "." in key and not key.startswith("data."):
            raise ConfigError(f"--set {key}: only data options apply here (data.KEY=VALUE)")
        out[key.removeprefix("data.")] = value
    from_dict(DataConfig, out, "data.")  # unknown keys and wrong types fail here, naming the key
    return out
