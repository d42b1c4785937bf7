"""A run folder's own history: each command that works on a run adds one entry to its run.json.

An entry says what ran (``command``, ``argv``) and when (``started``, ``seconds``). Commands are
recorded when they succeed (bad input leaves a run folder untouched). ``train`` and ``train --resume``
record their entry through the library when they write run.json (see ``vaekit.train(...,
history=...)``), so a run that stops or is killed still lists the command that started it.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from ..errors import VaekitError

log = logging.getLogger(__name__)


def command_name(args: argparse.Namespace) -> str:
    """``evaluate``, ``anomaly eval``, ..."""
    parts = [args.command, getattr(args, "action", None), getattr(args, "data_command", None)]
    return " ".join(p for p in parts if p)


def entry(args: argparse.Namespace, **extra) -> dict:
    """The history entry of the command being run (``args.argv``, ``args.started`` set by ``main``)."""
    from ..run import history_entry

    return history_entry(command_name(args), getattr(args, "argv", None), getattr(args, "started", None), **extra)


def record(args: argparse.Namespace) -> None:
    """Append the command that just succeeded to ``RUN/run.json`` when it worked on a run folder ``RUN``."""
    if getattr(args, "history_recorded", False):
        return
    folder = getattr(args, "run", None)
    if not isinstance(folder, str) or not (Path(folder) / "run.json").is_file():
        return
    from ..run import append_history

    started = getattr(args, "started", time.time())
    try:
        append_history(folder, entry(args, seconds=round(time.time() - started, 3)))
    except (VaekitError, OSError) as exc:  # e.g. a read-only run folder: the command itself succeeded
        log.debug("%s: history not recorded (%s)", folder, exc)
