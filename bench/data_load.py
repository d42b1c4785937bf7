"""Median load time of real datasets from their compressed files (MNIST IDX .gz, binarized MNIST .amat.gz).

Usage: ``python bench/data_load.py [--data ../shared/data] [--repeats 5]``. Each repeat reads and
decodes the files from scratch (the OS file cache is warm after the first one). Target: MNIST's
60,000 training images in under 2 seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from vaekit.data import DataConfig, load_source
from vaekit.data.sources.idx import load_idx_pair

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def median_seconds(load, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        load()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with mnist/ and binarized_mnist/")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    mnist, amat = args.data / "mnist", args.data / "binarized_mnist"
    cases = [
        ("MNIST train, 60,000 images + labels (idx .gz)", mnist, lambda: load_idx_pair(
            mnist / "train-images-idx3-ubyte.gz", mnist / "train-labels-idx1-ubyte.gz", 10)),
        ("MNIST train + test, 70,000 (spec mnist:)", mnist, lambda: load_source(DataConfig(spec=f"mnist:{mnist}"))),
        ("binarized MNIST, 70,000 (spec amat:, .amat.gz)", amat, lambda: load_source(DataConfig(spec=f"amat:{amat}"))),
    ]
    print(f"data: {args.data}  repeats: {args.repeats}  cpus: {os.cpu_count()}")
    for name, folder, load in cases:
        if not folder.is_dir():
            print(f"{name:50s} skipped ({folder} absent)")
            continue
        median, times = median_seconds(load, args.repeats)
        print(f"{name:50s} median {median:.3f} s  (min {min(times):.3f}, max {max(times):.3f})")

if __name__ == "__main__":
    main()
