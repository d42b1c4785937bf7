"""Helpers shared by the benchmark scripts (each runs as ``python bench/<script>.py``)."""

from __future__ import annotations

import torch


def setup_threads(threads: int | None) -> None:
    """``torch.set_num_threads(threads)`` when given (benchmarks quote the thread count)."""
    if threads:
        torch.set_num_threads(threads)


def choose(spec: str, choices) -> list[str]:
    """The comma-separated names of ``spec``, each checked against ``choices`` (exits on unknown ones)."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown:
        raise SystemExit(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(choices)}")
    return names
