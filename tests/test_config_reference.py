"""docs/config.md is generated from the config dataclasses by scripts/config_reference.py.

Regenerate it with ``python scripts/config_reference.py > docs/config.md`` after changing a config
field or its description; every field needs a line in its dataclass's ``Attributes:`` section.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import pytest

from vaekit.models import ModelConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ref():
    spec = importlib.util.spec_from_file_location("config_reference", ROOT / "scripts" / "config_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves annotations through sys.modules
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_docs_config_md_is_up_to_date(ref):
    text, _ = ref.render()
    assert (ROOT / "docs" / "config.md").read_text() == text, (
        "docs/config.md is stale: run `python scripts/config_reference.py > docs/config.md`")


def test_every_config_field_has_a_description(ref):
    _, missing = ref.render()
    assert missing == [], "config fields without a line in their dataclass's Attributes: " + ", ".join(missing)


def test_every_key_is_listed(ref):
    """The reference covers the whole config: every dotted key, every registered model's too."""
    import typing

    from vaekit.models import MODELS
    from vaekit.train.config import RunConfig

    def keys(cls, prefix=""):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            yield prefix + f.name
            if dataclasses.is_dataclass(hints[f.name]):
                yield from keys(hints[f.name], f"{prefix}{f.name}.")

    expected = set(keys(RunConfig)) | {f"model.{k}" for name in MODELS for k in keys(MODELS.get(name).Config)}
    text, _ = ref.render()
    assert sorted(k for k in expected if f"| `{k}` |" not in text) == []


DOC = '''Options.

    Attributes:
        alpha: first line
            and its continuation.
        beta, gamma: shared text.
        delta (int): a typed entry with ``code`` and :func:`vaekit.load`.
        epsilon: a | pipe.

    Example:
        not_a_field: ignored.
    '''


def test_parser_reads_multiline_shared_and_typed_entries(ref):
    assert ref.parse_attributes(DOC) == {
        "alpha": "first line and its continuation.", "beta": "shared text.", "gamma": "shared text.",
        "delta": "a typed entry with `code` and `vaekit.load`.", "epsilon": "a \\| pipe."}


def test_parser_reads_the_one_line_form(ref):
    assert ref.parse_attributes("Attributes: k: importance samples per example.") == {
        "k": "importance samples per example."}
    assert ref.parse_attributes("No attributes here.") == {}


def test_an_undocumented_field_is_reported(ref):
    @dataclasses.dataclass
    class Extra(ModelConfig):
        """Attributes: documented: yes."""

        documented: int = 1
        undocumented: int = 2

    missing = []
    ref.rows(ref.Section("model.", Extra, ["documented", "undocumented"], "extra"), missing)
    assert missing == ["model.undocumented (Extra)"]
    assert ref.field_docs(Extra)["latent_dim"] == "number of latent dimensions Z."  # from the base class


def test_check_flag_fails_on_a_stale_file(ref, tmp_path):
    stale = tmp_path / "config.md"
    stale.write_text("# old\n")
    assert ref.main(["--check", "--doc", str(stale)]) == 1
    stale.write_text(ref.render()[0])
    assert ref.main(["--check", "--doc", str(stale)]) == 0
