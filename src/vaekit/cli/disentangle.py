"""``vaekit disentangle RUN``: disentanglement metrics of a run trained on shapes data, a JSON file and
traversals annotated with the factor each latent dimension captures."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import SEED, Number, check_outputs

NAMES = "beta_vae,factor_vae,mig,dci,sap"


def metric_names(text: str) -> list[str]:
    """argparse type: ``"mig,dci"`` -> ``["mig", "dci"]`` (checked against the registered metrics)."""
    from ..evaluate.disentanglement import METRICS

    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose metrics from {', '.join(METRICS)}; got {text!r}")
    return names


def register(sub) -> None:
    p = sub.add_parser("disentangle", help="beta-VAE, FactorVAE, MIG, DCI and SAP scores of a run on shapes data")
    p.add_argument("run", metavar="RUN", help="run directory (trained on a shapes spec)")
    p.add_argument("--metrics", type=metric_names, metavar="A,B", help=f"subset of {NAMES} (default all)")
    p.add_argument("--scale", type=Number(float, 0, 100, lo_open=True), default=1.0,
                   help="multiply disentanglement_lib's sample counts (default 1 = 10,000 train points)")
    p.add_argument("--dci-importance", choices=["gbt", "lasso"], default="gbt",
                   help="DCI importance: gradient-boosted trees (default, as disentanglement_lib) or lasso (fast)")
    p.add_argument("--sap-continuous", action="store_true",
                   help="SAP with squared correlations instead of 1-D linear SVM accuracies")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="which weights (default best)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the factor draws and classifiers")
    p.add_argument("--device", default="auto", metavar="DEV", help="auto, cpu or cuda")
    p.add_argument("--out", metavar="FILE", help="JSON output (default RUN/disentanglement.json)")
    p.add_argument("--figure", metavar="FILE", help="traversal figure (default RUN/disentanglement.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..device import resolve_device
    from ..evaluate.disentangle_run import disentangle
    from ..figures import factor_traversal_figure
    from ..figures import save
    from ..io import write_json
    from ..run import open_run

    out = Path(args.out) if args.out else Path(args.run) / "disentanglement.json"
    figure = Path(args.figure) if args.figure else Path(args.run) / "disentanglement.png"
    check_outputs(out, figure)
    r = open_run(args.run, args.weights, resolve_device(args.device))
    options = {"dci": {"importance": args.dci_importance}, "sap": {"continuous_factors": args.sap_continuous}}
    result = disentangle(r, args.seed, args.scale, args.metrics, options)
    write_json(out, {"run": str(args.run), "weights": args.weights, **result.to_json()})
    save(factor_traversal_figure(r, result), figure)
    print(format_scores(result.scores))
    print(format_latents(result.latent_factors()))
    print(f"written: {out}, {figure}")
    return 0


def format_scores(scores: dict[str, dict[str, float]]) -> str:
    """One line per metric: its scores except the per-factor breakdowns."""
    lines = []
    for name, values in scores.items():
        shown = {k: v for k, v in values.items() if not _per_factor(name, k)}
        lines.append(f"{name:<11}" + "  ".join(f"{k} {v:.3f}" for k, v in shown.items()))
    return "\n".join(lines)


def _per_factor(metric: str, key: str) -> bool:
    return metric in ("mig", "sap") and key != metric


def format_latents(rows: list[dict]) -> str:
    """Latent dimensions by decreasing KL with the factor each captures best."""
    rows = sorted(rows, key=lambda r: -r["kl"])
    return "latent dims (by KL): " + ", ".join(
        f"z{r['dim']}={r['factor'] or '-'} ({r['nmi']:.2f})" for r in rows)
