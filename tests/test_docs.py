"""The docs that describe the code stay in step with it: docs/architecture.md's module map and layer
table, and the Python examples of docs/extending.md (run as written)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.test_layers import LAYERS, PEERS, SRC

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()


def section(text: str, title: str) -> str:
    """The body of the ``## title`` section."""
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_module_map_names_every_module():
    text = section(ARCHITECTURE, "Module map")
    modules = sorted(p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py"))
    assert [m for m in modules if f"`{m}`" not in text] == [], "add these modules to docs/architecture.md"
    listed = re.findall(r"^\| `([\w/]+\.py)` \|", text, flags=re.M)
    assert [m for m in listed if not (SRC / m).is_file()] == [], "the module map names modules that are gone"


def test_layer_table_matches_the_import_test():
    rows = re.findall(r"^\| (\d) \| (.+) \|$", section(ARCHITECTURE, "Layers"), flags=re.M)
    documented = {name: int(layer) for layer, names in rows for name in re.findall(r"`([\w.]+)`", names)}
    assert documented == LAYERS
    for a, b in PEERS:
        assert f"`{a}` and `{b}`" in ARCHITECTURE


def test_extending_examples_run(tmp_path):
    """Every ```python block of docs/extending.md, in order, in one fresh interpreter (registrations
    there must not leak into this test session's registries)."""
    text = (ROOT / "docs" / "extending.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```$", text, flags=re.M | re.S)
    assert len(blocks) >= 5
    run_tests = ("\nfor _name, _fn in list(globals().items()):\n"
                 "    if _name.startswith('test_') and callable(_fn):\n        _fn()\n")
    script = tmp_path / "examples.py"
    script.write_text("\n\n".join(blocks) + run_tests)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped, spaces to '-'."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_and_image_in_the_docs_resolves():
    """README.md and docs/**/*.md: each relative link names an existing file, and its #anchor a heading."""
    broken = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert broken == []


def test_readme_is_a_short_user_guide():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
