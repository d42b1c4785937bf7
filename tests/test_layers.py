"""The package's layers only point down: a module imports from its own layer or lower ones.

Layers, lowest first (docs/architecture.md): generic helpers; data and the pieces models are made
of; models; run records and the configs of training; evaluation and latent tools (peers that do not
import each other); training; pictures and reports; the pipeline; the CLI and the package itself.
Every import statement in src/vaekit (including ones inside functions) is read with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vaekit"

#: module prefix -> layer; the longest matching prefix wins.
LAYERS = {
    "vaekit.errors": 0, "vaekit.registry": 0, "vaekit.config": 0, "vaekit.io": 0, "vaekit.device": 0,
    "vaekit.progress": 0, "vaekit.version": 0, "vaekit.limits": 0,
    "vaekit.data": 1, "vaekit.distributions": 1, "vaekit.likelihoods": 1, "vaekit.nets": 1, "vaekit.viz": 1,
    "vaekit.schedules": 1, "vaekit.priors": 1, "vaekit.posteriors": 1, "vaekit.flows": 1, "vaekit.pixelcnn": 1, "vaekit.tabular": 1,
    "vaekit.models": 2,
    "vaekit.run": 3, "vaekit.posthoc": 3, "vaekit.train.config": 3,
    "vaekit.evaluate": 4, "vaekit.latent": 4,
    "vaekit.train": 5,
    "vaekit.figures": 6, "vaekit.report": 6, "vaekit.tracking": 6, "vaekit.restoration": 6,
    "vaekit.pipeline": 7, "vaekit.sklearn": 7,
    "vaekit.cli": 8, "vaekit.__main__": 8, "vaekit": 8,
}
#: Same-layer packages that must not import each other.
PEERS = [("vaekit.evaluate", "vaekit.latent")]


def layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise AssertionError(f"{module} has no layer: add it to LAYERS (and docs/architecture.md)")
    return LAYERS[best]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every vaekit import in ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            out += [(node.lineno, t) for t in targets]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return [(line, t) for line, t in out if t == "vaekit" or t.startswith("vaekit.")]


def own_package(module: str) -> str:
    return ".".join(module.split(".")[:2])


FILES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=[module_name(p) for p in FILES])
def test_imports_point_down(path):
    here = module_name(path)
    bad = []
    for line, target in imports(path):
        if own_package(target) == own_package(here) and here != "vaekit":
            continue  # inside one package (its own modules may be layered by the table too)
        if layer(target) > layer(here):
            bad.append(f"line {line}: {target} (layer {layer(target)})")
        for a, b in PEERS:
            if (here.startswith(a) and target.startswith(b)) or (here.startswith(b) and target.startswith(a)):
                bad.append(f"line {line}: {target} (a peer of {here})")
    assert not bad, f"{here} (layer {layer(here)}) imports upwards: " + "; ".join(bad)


def test_inside_train_only_the_configs_sit_low():
    """train.config is imported by the run layer, so it imports no training code."""
    targets = [t for _, t in imports(SRC / "train" / "config.py")]
    assert all(layer(t) <= 3 for t in targets), targets


def test_the_table_catches_an_upward_import(tmp_path):
    """The check itself can fail: an evaluate module that imports the CLI is reported."""
    assert layer("vaekit.cli.train") > layer("vaekit.evaluate.api") > layer("vaekit.models.base")
    assert layer("vaekit.train.config") < layer("vaekit.train.loop")
