"""The main job, from data to a complete run folder: train -> evaluate -> pictures -> report.

``vaekit.train`` and ``vaekit train`` are :func:`train`; ``vaekit.resume`` and ``vaekit train --resume``
are :func:`resume`. Training itself (checkpoints, exact resume, several processes) is
:mod:`vaekit.train.api`; this module adds what a finished run shows a person, and the experiment
trackers (TensorBoard, MLflow: :mod:`vaekit.tracking`) around training.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .data import Splits
from .figures import Names, write_run_figures
from .report import write_report
from .run import Run
from .tracking import tracked
from .train import api
from .train.config import RunConfig


def train(config: RunConfig | dict, history: dict | None = None) -> Run:
    """Train a model as configured and write its complete run folder.

    Returns the loaded :class:`~vaekit.run.Run` (best weights). ``run.info["test"]`` holds the test
    split's negative ELBO, rate, distortion (and bits/dim for discrete image data) when the data has a
    test split; ``run.info["warnings"]`` what a user must know (e.g. a diverging run). ``history``:
    the entry for ``run.json``'s history (the CLI passes its command line).
    """
    return api.train(config, finish=finish, history=history, track=tracked)


def resume(run_dir: str | Path, overrides: list[tuple[str, object]] = (), history: dict | None = None) -> Run:
    """Continue a run from its last checkpoint (see :func:`vaekit.train.api.resume`) and finish it."""
    return api.resume(run_dir, overrides, finish=finish, history=history, track=tracked)


def finish(path: Path, info: dict, splits: Splits, history: list[dict], device: torch.device) -> Run:
    """The end of a finished run: test metrics and status (run.json), pictures, the HTML report."""
    run = api.complete(path, info, splits, history, device)
    shown = splits.test or splits.val or splits.train
    write_run_figures(run.model, shown, run.preprocessor, history, path, Names.of(info, run.columns))
    write_report(run, shown, history)
    return run
