"""``vaekit data``: ``fetch NAME --to DIR`` downloads a dataset, ``inspect SPEC`` summarizes one."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import parse_override
from .common import check_outputs


def register(sub) -> None:
    p = sub.add_parser("data", help="download or inspect datasets")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", parser_class=type(p))
    data_sub.required = True
    f = data_sub.add_parser("fetch", help="download a dataset, verified by SHA-256 (resumable)")
    f.add_argument("name", help="mnist, fashion-mnist, kmnist or binarized-mnist ('list' to show them)")
    f.add_argument("--to", metavar="DIR", help="download folder (default data/NAME)")
    f.add_argument("--mirror", metavar="URL", action="append", help="base URL to use instead (repeatable)")
    f.set_defaults(func=run_fetch)
    i = data_sub.add_parser("inspect", help="count, shape, dtype, value range and labels of a data spec")
    i.add_argument("spec", help="data spec, e.g. digits, mnist:DIR, amat:DIR, npz:FILE, images:DIR, csv:FILE")
    i.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="a data setting, e.g. --set image_size=[32,32] --set label_column=species")
    i.set_defaults(func=run_inspect)


def run_fetch(args: argparse.Namespace) -> int:
    from ..data.fetch import DATASETS, fetch

    if args.name == "list":
        for name, remote in sorted(DATASETS.items()):
            print(f"{name:16s} {remote.about}")
        return 0
    to = args.to or f"data/{args.name}"
    check_outputs(Path(to).expanduser() / "file")
    spec, files = fetch(args.name, to, mirrors=args.mirror)
    for path, downloaded in files:
        print(f"{'downloaded' if downloaded else 'present   '}  {path}  (SHA-256 verified)")
    print(f"use it with: --data {spec}")
    return 0


def format_summary(name: str, s: dict) -> str:
    """One line per split: count, shape, dtype, value range, label counts."""
    shape = "x".join(str(d) for d in s["shape"])
    text = (f"{name:5s} {s['count']:>7d} examples  shape {shape}  {s['dtype']}  "
            f"values {s['min']:g}..{s['max']:g} (scaled by 1/{s['max_value']:g})")
    if s["label_counts"] is not None:
        text += f"\n      {s['n_classes']} classes{_label_counts(s['label_counts'])}"
        if s["n_unlabelled"]:
            text += f" (and {s['n_unlabelled']} unlabelled)"
    return text


def _label_counts(counts: list[int], shown: int = 100) -> str:
    """``: 0:5 1:7 ...``; with more than ``shown`` classes only the first ``shown`` non-empty ones."""
    if len(counts) <= shown:
        return ": " + " ".join(f"{k}:{n}" for k, n in enumerate(counts))
    present = [(k, n) for k, n in enumerate(counts) if n]
    listed = " ".join(f"{k}:{n}" for k, n in present[:shown])
    return f" ({len(present)} with examples{f', the first {shown}' if len(present) > shown else ''}): {listed}"


def run_inspect(args: argparse.Namespace) -> int:
    from ..config import from_dict
    from ..data import DataConfig, load_data
    from ..data.summary import describe

    values = {"spec": args.spec}
    for text in args.set:
        key, value = parse_override(text)
        values[key.removeprefix("data.")] = value
    cfg = from_dict(DataConfig, values, "data.")
    splits, pre = load_data(cfg)
    print(f"spec: {cfg.spec}")
    for name, summary in describe(splits).items():
        print(format_summary(name, summary))
    if pre.mean is not None:
        print("standardized per feature with training-split mean and std")
    if splits.columns is not None:
        scaled = " (numbers standardized with the training rows' mean and std)" if cfg.standardize is not False else ""
        print(f"columns: {splits.columns.describe()}{scaled}")
    return 0
