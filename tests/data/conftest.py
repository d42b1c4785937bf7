"""Helpers for the data tests."""

from __future__ import annotations

import pytest

from vaekit.data import DataConfig, DataError, load_source


def load_error(spec: str, **cfg) -> str:
    """The message of the DataError that loading ``spec`` raises; asserts it is one line."""
    with pytest.raises(DataError) as info:
        load_source(DataConfig(spec=spec, **cfg))
    message = str(info.value)
    assert "\n" not in message
    return message
