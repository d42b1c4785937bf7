"""``vaekit runs [DIR]``: the runs under a folder as a table (or CSV / JSON), sortable by any column."""

from __future__ import annotations

import argparse
import csv
import io
import json

#: column -> (heading, format of a value)
HEADINGS = {"name": ("run", "{}"), "model": ("model", "{}"), "data": ("data", "{}"), "epochs": ("epochs", "{}"),
            "best_val_nelbo": ("best val -ELBO", "{:.2f}"), "test_nelbo": ("test -ELBO", "{:.2f}"),
            "nll": ("NLL", "{:.2f}"), "status": ("status", "{}"), "created": ("created (UTC)", "{}")}
NUMERIC = ("epochs", "best_val_nelbo", "test_nelbo", "nll")


def register(sub) -> None:
    p = sub.add_parser("runs", help="table of the runs under a folder (model, data, epochs, -ELBO, NLL, status)")
    p.add_argument("dir", nargs="?", default="runs", metavar="DIR", help="folder of run directories (default runs)")
    p.add_argument("--sort", default="created", choices=list(HEADINGS), metavar="KEY",
                   help=f"sort by one of {', '.join(HEADINGS)} (default created)")
    p.add_argument("--reverse", action="store_true", help="sort in descending order")
    p.add_argument("--format", default="table", choices=["table", "csv", "json"], help="output format (default table)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..run import find_runs, run_summary

    rows = []
    for path in find_runs(args.dir):
        rows.append({**run_summary(path), "name": str(path.relative_to(Path(args.dir).expanduser()))})
    rows = sort_rows(rows, args.sort, args.reverse)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif args.format == "csv":
        print(to_csv(rows), end="")
    elif rows:
        print(to_table(rows))
    else:
        print(f"no runs under {args.dir}")
    return 0


def sort_rows(rows: list[dict], key: str, reverse: bool = False) -> list[dict]:
    """Rows ordered by ``key``; rows without a value come last either way."""
    have = [r for r in rows if r.get(key) is not None]
    kind = (lambda v: float(v)) if key in NUMERIC else str  # noqa: E731
    return sorted(have, key=lambda r: kind(r[key]), reverse=reverse) + [r for r in rows if r.get(key) is None]


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    if key == "created":  # 2026-01-31T12:34:56+00:00 -> 2026-01-31 12:34 (UTC)
        return str(value)[:16].replace("T", " ")
    return HEADINGS[key][1].format(value)


def to_table(rows: list[dict]) -> str:
    """An aligned text table; numbers right-aligned."""
    cells = [[HEADINGS[k][0] for k in HEADINGS]] + [[_cell(r, k) for k in HEADINGS] for r in rows]
    widths = [max(len(line[j]) for line in cells) for j in range(len(HEADINGS))]
    align = [">" if k in NUMERIC else "<" for k in HEADINGS]
    return "\n".join("  ".join(f"{c:{a}{w}}" for c, a, w in zip(line, align, widths)).rstrip() for line in cells)


def to_csv(rows: list[dict]) -> str:
    """CSV with a header row: the summary columns and the run's path."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*HEADINGS, "path"], extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
