"""Tabular anomaly detection: the default tabular VAE recipe beside IsolationForest, PCA and a one-class SVM.

Tables (scikit-learn's bundled ones, no download; covtype only when already in scikit-learn's cache):

- ``breast_cancer`` (569 rows, 30 numeric columns): benign tumours (357) are normal, malignant (212)
  anomalous.
- ``wine`` (178 rows, 13 numeric columns): cultivars 1 and 2 (119 rows) normal, cultivar 0 (59)
  anomalous.
- ``digits`` (1,797 rows, 64 pixel columns with values 0..16): one-class, each digit in turn normal
  and the nine others anomalous; the table's figure is the mean over the ten digits.
- ``covtype`` (if cached: 581,012 rows, 54 columns): a seeded 20,000-row subset, cover type 2
  (lodgepole pine) normal, the others anomalous.

Protocol, per table and seed s: a stratified 40% test split (seeded by s, every class in proportion);
every model trains only on the normal rows of the other 60% (the VAE holds 10% of those out to pick
its best epoch; the baselines fit on all of them); AUROC and AUPRC (anomalies positive) on the test
split's normal and anomalous rows. All methods see the same rows in the same run: the VAE through
``vaekit.fit`` on the table (columns detected and encoded by vaekit), the baselines on the columns
standardized with the normal training rows' mean and deviation, with scikit-learn's defaults:
``IsolationForest(random_state=s)``, ``OneClassSVM()`` (RBF kernel, gamma "scale", nu 0.5) and PCA
reconstruction error with the components explaining 90% of the training variance.

The VAE recipe is the ``tabular`` preset (see ``vaekit presets``) scored with
``vaekit.evaluate.anomaly.TABLE_SCORE``; ``--set key=value`` changes the recipe and ``--scores`` adds
other scores, to compare.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python bench/anomaly_tabular.py [--seeds 0,1,2,3,4] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

import vaekit
from vaekit.config import deep_merge, parse_override, set_dotted
from vaekit.data import prepare
from vaekit.data.memory import from_memory
from vaekit.evaluate.anomaly import TABLE_SCORE, score_dataset
from vaekit.evaluate.detection import detection_metrics
from vaekit.models import PRESETS

TEST_FRACTION = 0.4
BASELINES = ("isolation_forest", "pca", "ocsvm")


def tables(names: list[str]) -> dict:
    """``{name: (DataFrame, labels, [normal-class lists])}`` of the requested tables that are available."""
    import pandas as pd
    from sklearn import datasets

    out = {}
    if "breast_cancer" in names:
        b = datasets.load_breast_cancer()
        out["breast_cancer"] = (pd.DataFrame(b.data, columns=b.feature_names), b.target, [[1]])
    if "wine" in names:
        w = datasets.load_wine()
        out["wine"] = (pd.DataFrame(w.data, columns=w.feature_names), w.target, [[1, 2]])
    if "digits" in names:
        d = datasets.load_digits()
        frame = pd.DataFrame(d.data.astype(np.int64), columns=[f"pixel_{i}" for i in range(64)])
        out["digits"] = (frame, d.target, [[k] for k in range(10)])
    if "covtype" in names:
        try:
            c = datasets.fetch_covtype(download_if_missing=False)
        except OSError:
            print("covtype: not in scikit-learn's cache, left out")
        else:
            idx = np.random.default_rng(0).choice(len(c.target), 20000, replace=False)
            out["covtype"] = (pd.DataFrame(c.data[idx]), c.target[idx] - 1, [[1]])
    return out


def recipe(overrides: list[str]) -> dict:
    cfg = deep_merge({}, PRESETS.get("tabular"))
    for text in overrides:
        set_dotted(cfg, *parse_override(text))
    return cfg


def split_rows(frame, y: np.ndarray, data_cfg) -> tuple[np.ndarray, np.ndarray]:
    """(training rows of the normal classes, test rows of every class), as vaekit splits the table."""
    rows = np.arange(len(frame), dtype=np.float64)[:, None]
    normal, _ = prepare(from_memory(rows, y), data_cfg)
    every, _ = prepare(from_memory(rows, y), dataclasses.replace(data_cfg, classes=None))
    train = np.concatenate([normal.train.x[:, 0].numpy(), normal.val.x[:, 0].numpy() if normal.val else []])
    return train.astype(np.int64), every.test.x[:, 0].numpy().astype(np.int64)


def baselines(x_train: np.ndarray, x_test: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Anomaly scores (higher = more anomalous) of the three scikit-learn baselines."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import OneClassSVM

    scaler = StandardScaler().fit(x_train)
    a, b = scaler.transform(x_train), scaler.transform(x_test)
    pca = PCA(n_components=0.9, random_state=seed).fit(a)
    return {"isolation_forest": -IsolationForest(random_state=seed).fit(a).score_samples(b),
            "pca": ((b - pca.inverse_transform(pca.transform(b))) ** 2).sum(1),
            "ocsvm": -OneClassSVM().fit(a).score_samples(b)}


def one_task(frame, y: np.ndarray, normal: list[int], seed: int, cfg: dict, scores: list[str]) -> dict:
    """AUROC and AUPRC of every method on one normal/anomalous split."""
    cfg = deep_merge(cfg, {"data": {"classes": normal, "test_fraction": TEST_FRACTION, "seed": seed},
                           "train": {"seed": seed, "progress": False}})
    run = vaekit.fit(frame, y, config=cfg)
    every_class = dataclasses.replace(run.config.data, classes=None)  # the test rows of every class
    splits, _ = prepare(from_memory(frame, y), every_class, run.columns)
    is_anomaly = ~np.isin(splits.test.y.numpy(), normal)
    out = {name: s for name, s in score_dataset(run.model, splits.test, run.preprocessor, scores).items()}
    train_rows, test_rows = split_rows(frame, y, run.config.data)
    assert np.array_equal(y[test_rows], splits.test.y.numpy())  # the same rows in the same order
    x = frame.to_numpy(np.float64)
    out.update(baselines(x[train_rows], x[test_rows], seed))
    return {name: detection_metrics(is_anomaly.astype(float), s) for name, s in out.items()}


def run_table(name: str, table, seeds: list[int], cfg: dict, scores: list[str]) -> dict:
    """``{method: {"auroc": [per seed], "auprc": [...]}}`` (one-class tasks averaged within a seed)."""
    frame, y, normals = table
    per_seed = {}
    for seed in seeds:
        t0 = time.perf_counter()
        tasks = [one_task(frame, y, normal, seed, cfg, scores) for normal in normals]
        for method in tasks[0]:
            for metric in ("auroc", "auprc"):
                value = float(np.mean([t[method][metric] for t in tasks]))
                per_seed.setdefault(method, {}).setdefault(metric, []).append(value)
        print(f"  {name} seed {seed}: {time.perf_counter() - t0:.1f} s, AUROC " + ", ".join(
            f"{m} {v['auroc'][-1]:.3f}" for m, v in per_seed.items()), flush=True)
    return per_seed


def summary(results: dict, methods: list[str]) -> str:
    """Markdown table: mean +- sd over seeds of AUROC (and AUPRC) per table and method."""
    head = "| table | metric | " + " | ".join(methods) + " |\n|---|---|" + "---|" * len(methods) + "\n"
    lines = []
    for table, res in results.items():
        for metric in ("auroc", "auprc"):
            cells = [f"{np.mean(res[m][metric]):.3f} ± {np.std(res[m][metric]):.3f}" for m in methods]
            lines.append(f"| {table} | {metric.upper()} | " + " | ".join(cells) + " |")
    for metric in ("auroc", "auprc"):
        means = [np.mean([np.mean(results[t][m][metric]) for t in results]) for m in methods]
        lines.append(f"| mean over tables | {metric.upper()} | " + " | ".join(f"**{v:.3f}**" for v in means) + " |")
    return head + "\n".join(lines)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tables", default="breast_cancer,wine,digits,covtype")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--scores", default="", help="more vaekit scores to report beside the recipe's")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change the VAE recipe")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--json", help="write every per-seed figure here")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    cfg = recipe(args.set)
    scores = list(dict.fromkeys([TABLE_SCORE, *filter(None, args.scores.split(","))]))
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    print(f"recipe: {json.dumps(cfg)}; scores: {', '.join(scores)}; seeds {seeds}", flush=True)
    results = {name: run_table(name, t, seeds, cfg, scores) for name, t in tables(args.tables.split(",")).items()}
    methods = [*scores, *BASELINES]
    print(f"\nAUROC / AUPRC, mean ± sd over {len(seeds)} seeds ({time.perf_counter() - t0:.0f} s):\n")
    print(summary(results, methods))
    default = np.mean([np.mean(r[TABLE_SCORE]["auroc"]) for r in results.values()])
    forest = np.mean([np.mean(r["isolation_forest"]["auroc"]) for r in results.values()])
    print(f"\nrecipe ({TABLE_SCORE}) mean AUROC {default:.3f} vs IsolationForest {forest:.3f}: "
          f"{'at least as good' if default >= forest else 'WORSE'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"recipe": cfg, "seeds": seeds, "results": results}, indent=1))


if __name__ == "__main__":
    main()
