"""``vaekit synthesize RUN --n N --out F.csv``: new rows of a table from a trained run."""

from __future__ import annotations

import argparse

from .common import SEED, Number, check_outputs


def register(sub) -> None:
    p = sub.add_parser("synthesize", help="draw new rows of a table from the model, as CSV")
    p.add_argument("run", metavar="RUN", help="run directory (trained on a table)")
    p.add_argument("--n", type=Number(int, 1, 10**7), default=1000, help="number of rows (default 1000)")
    p.add_argument("--out", metavar="FILE.csv", required=True, help="where to write the rows")
    p.add_argument("--temperature", type=Number(float, 0, 100), default=1.0,
                   help="scale of the prior draw z ~ N(0, T^2 I), 0..100 (default 1)")
    p.add_argument("--mean", action="store_true", help="decoder means (most probable categories) instead of draws")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the draws")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="which weights (default best)")
    p.add_argument("--device", default="auto", metavar="DEV", help="auto, cpu or cuda")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..device import resolve_device
    from ..io import write_text
    from ..latent.tables import synthesize
    from ..run import open_run

    check_outputs(args.out)
    r = open_run(args.run, args.weights, resolve_device(args.device))
    frame = synthesize(r, args.n, args.seed, args.temperature, args.mean)
    write_text(args.out, frame.to_csv(index=False))
    print(f"{len(frame)} rows, columns {', '.join(map(str, frame.columns))}: {args.out}")
    return 0
