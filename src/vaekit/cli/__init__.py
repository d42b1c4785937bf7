"""``vaekit`` command line: parses arguments, calls library functions, prints results.

Each module in this package with a ``register(subparsers)`` function adds one subcommand; the
handler it sets (``func``) returns an exit status. Every :class:`VaekitError`, and every OSError (a full
disk, a read-only folder), becomes one line on stderr and exit status 2: a CLI user never sees a
traceback for bad input or a bad environment.

Output: results go to stdout; progress (a bar on a terminal, else one line per epoch and a heartbeat
line inside long loops) and log lines go to stderr. ``-v`` / ``-q`` / ``--heartbeat`` work before
or after the subcommand. A command that works on a run folder is recorded in its ``run.json``
(see :mod:`vaekit.cli.history`).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import pkgutil
import sys
import time

from ..version import __version__
from ..errors import VaekitError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit status 2) and the output options on every (sub)command.

    Args:
        top: the ``vaekit`` parser itself (its output options have real defaults; a subcommand's
            are only set when given, so ``vaekit -v train`` and ``vaekit train -v`` both work).
    """

    def __init__(self, *args, top: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        add_output_args(self, top)

    def error(self, message: str):  # noqa: D102
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def add_output_args(p: argparse.ArgumentParser, top: bool) -> None:
    """-v/--verbose, -q/--quiet and --heartbeat."""
    unset = argparse.SUPPRESS
    out = p.add_argument_group("output")
    out.add_argument("-v", "--verbose", action="store_true", default=False if top else unset,
                     help="also log debugging details")
    out.add_argument("-q", "--quiet", action="store_true", default=False if top else unset,
                     help="no progress and no informational lines: only warnings, errors and the final summary")
    out.add_argument("--heartbeat", type=_seconds, metavar="SECONDS", default=None if top else unset,
                     help="seconds between progress lines inside long loops when stderr is not a terminal "
                          "(default 30)")


def _version() -> str:
    import platform

    import torch

    return f"vaekit {__version__} (torch {torch.__version__}, Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vaekit", description="Train, evaluate and use variational autoencoders.", top=True)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def configure_output(args: argparse.Namespace) -> None:
    """Logging level and progress display from -v / -q / --heartbeat."""
    from .. import progress

    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    progress.configure_logging(level)
    heartbeat = args.heartbeat if args.heartbeat is not None else progress.Settings.heartbeat
    progress.configure(mode="off" if args.quiet else "auto", heartbeat=heartbeat)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    for stream in (sys.stdout, sys.stderr):  # paths with undecodable bytes print as escapes, never crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    args.argv, args.started = argv, time.time()
    configure_output(args)
    try:
        status = int(args.func(args) or 0)
        if status == 0:
            from .history import record

            record(args)
        return status
    except VaekitError as exc:
        print(f"vaekit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `vaekit presets | head`
        sys.stderr.close()
        return 0
    except OSError as exc:  # the environment: a full disk, a read-only or missing folder, permissions
        print(f"vaekit: error: {os_error_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("vaekit: error: out of memory (use smaller data, batches or models)", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("vaekit: interrupted", file=sys.stderr)
        return 130


def os_error_line(exc: OSError) -> str:
    """``PATH: reason`` of an OSError in one line (``No space left on device`` gets a hint)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        reason += " (the disk is full: free some space and run again)"
    where = exc.filename2 if exc.filename2 is not None else exc.filename
    text = f"{os.fsdecode(where)}: {reason}" if where is not None else reason
    return " ".join(text.split())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
