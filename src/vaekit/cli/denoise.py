"""``vaekit denoise``: corrupt a run's examples, restore them, and compare both with the clean ones."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import CORRUPT_HELP, CORRUPT_METAVAR, corruptions
from .latent_args import ITEMS, add_data_args, add_run_args, open_run, out_path, split

#: The corruption used when neither --corrupt nor the run's train.corrupt names one.
DEFAULT_CORRUPTION = "gaussian:0.3"


def register(sub) -> None:
    p = sub.add_parser("denoise", help="clean / corrupted / restored grid and a PSNR, SSIM table")
    add_run_args(p, "denoise.png")
    add_data_args(p, items=8)
    p.add_argument("--corrupt", type=corruptions, action="append", metavar=CORRUPT_METAVAR,
                   help=f"a corruption to undo (repeatable, one grid block and table row each): {CORRUPT_HELP}; "
                        f"default: the run's train.corrupt, else {DEFAULT_CORRUPTION}")
    add_scoring_args(p)
    p.set_defaults(func=run)


def add_scoring_args(p: argparse.ArgumentParser) -> None:
    """--n-eval and --json, shared with ``vaekit inpaint``."""
    p.add_argument("--n-eval", type=ITEMS, default=1000,
                   help="seeded random examples scored (default 1000; the grid shows the first --n)")
    p.add_argument("--json", metavar="FILE", help="the scores as JSON (default: --out with .json)")


def scored_items(args: argparse.Namespace):
    """(grid path, JSON path, run, split, x, y): the outputs checked first, then ``max(--n, --n-eval)``
    seeded random items (or --indices) as model inputs."""
    from ..latent import batch, choose

    out = out_path(args)
    table_path = Path(args.json) if args.json else out.with_suffix(".json")
    r = open_run(args, table_path)
    ds = split(args, r)
    x, y = batch(r, ds, choose(ds, args.indices, min(len(ds), max(args.n, args.n_eval)), args.seed))
    return out, table_path, r, ds, x, y


def pipelines(args: argparse.Namespace, run) -> list:
    """--corrupt, else the run's own training corruption, else the default."""
    from ..data.corrupt import parse_corruption

    if args.corrupt:
        return args.corrupt
    return [run.config.train.corrupt or [parse_corruption(DEFAULT_CORRUPTION)]]


def run(args: argparse.Namespace) -> int:
    from ..figures import save
    from ..io import write_json
    from ..restoration import denoise, denoising_figure

    out, table_path, r, ds, x, y = scored_items(args)
    result = denoise(r.model, x, y, pipelines(args, r), r.preprocessor.mean is not None, args.seed)
    save(denoising_figure(result, r.preprocessor, min(args.n, len(x))), out)
    write_json(table_path, {"run": str(args.run), "data": ds.name, "examples": len(x), "seed": args.seed,
                            "rows": result.table})
    print(format_table(result.table))
    print(f"written: {out}")
    print(f"written: {table_path}")
    return 0


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def format_table(rows: list[dict]) -> str:
    """PSNR (dB) and SSIM of corrupted and restored vs clean, one line per corruption."""
    width = max(len("corruption"), *(len(r["corruption"]) for r in rows))
    lines = [f"{'corruption':<{width}}  {'PSNR corrupted':>14}  {'PSNR restored':>13}  "
             f"{'SSIM corrupted':>14}  {'SSIM restored':>13}  examples"]
    for r in rows:
        lines.append(f"{r['corruption']:<{width}}  {r['psnr_corrupted']:>11.2f} dB  {r['psnr_restored']:>10.2f} dB  "
                     f"{_fmt(r['ssim_corrupted'], '.4f'):>14}  {_fmt(r['ssim_restored'], '.4f'):>13}  {r['n']}")
    return "\n".join(lines)
