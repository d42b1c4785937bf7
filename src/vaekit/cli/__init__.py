"""``vaekit`` command line: parses arguments, calls library functions, prints results.

Each module in this package with a ``register(subparsers)`` function adds one subcommand; the
handler it sets (``func``) returns an exit status. Every :class:`VaekitError` becomes one line on
stderr and exit status 2: a CLI user never sees a traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from ..errors import VaekitError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit status 2)."""

    def error(self, message: str):  # noqa: D102
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vaekit", description="Train, evaluate and use variational autoencoders.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="vaekit: %(levelname)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except VaekitError as exc:
        print(f"vaekit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `vaekit presets | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("vaekit: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
