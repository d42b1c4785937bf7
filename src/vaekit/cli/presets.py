"""``vaekit presets``: list the named presets and models."""

from __future__ import annotations

import yaml


def register(sub) -> None:
    p = sub.add_parser("presets", help="list named presets and registered models")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..models import MODELS, PRESETS

    print("models: " + ", ".join(MODELS.names()))
    for name in PRESETS.names():
        print(f"\n{name}:")
        print("  " + yaml.safe_dump(PRESETS.get(name), sort_keys=False).strip().replace("\n", "\n  "))
    return 0
