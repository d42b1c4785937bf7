"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse

from ..config import parse_override


def add_config_args(p: argparse.ArgumentParser) -> None:
    """--config, --preset, --set and the common shortcut flags."""
    p.add_argument("--config", metavar="FILE", help="YAML run config")
    p.add_argument("--preset", metavar="NAME", help="named preset (see `vaekit presets`)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="override a config value, e.g. --set train.lr=3e-4 (repeatable)")
    p.add_argument("--data", metavar="SPEC", help="data source, e.g. digits, mnist:PATH")
    p.add_argument("--model", metavar="NAME", help="registered model name")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--latent-dim", type=int)
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
