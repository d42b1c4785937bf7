"""Config dataclasses: strict loading from dicts/YAML, dotted overrides, saving.

Unknown keys and wrong types are :class:`ConfigError` naming the key (``model.net.hiden``).
A dataclass may define ``__from_dict__(data, path)`` to pick its concrete class (the model section
uses it to look up the registered model's own config class).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import ConfigError
from .limits import check_int, check_real


def from_dict(cls, data: Any, path: str = ""):
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types."""
    hook = getattr(cls, "__from_dict__", None)
    return hook(data, path) if hook is not None else build_strict(cls, data, path)


def build_strict(cls, data: Any, path: str):
    """``from_dict`` without the class's dispatch hook."""
    where = path.rstrip(".") or "config"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            hint = difflib.get_close_matches(str(key), list(fields), n=1)
            extra = f" (did you mean '{path}{hint[0]}'?)" if hint else ""
            raise ConfigError(f"unknown config key '{path}{key}'{extra}")
        kwargs[key] = _coerce(hints[key], value, f"{path}{key}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _coerce(tp, value: Any, name: str):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, name)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, name + ".")
    if tp is typing.Any:
        return value
    check = _SCALARS.get(origin or tp)
    if check is None:
        raise ConfigError(f"{name}: unsupported config type {tp}")
    return check(value, name, args)


def _bad(name: str, want: str, value: Any) -> ConfigError:
    return ConfigError(f"{name}: expected {want}, got {value!r}")


def _as_bool(v, name, _):
    if isinstance(v, bool):
        return v
    raise _bad(name, "true or false", v)


def _as_int(v, name, _):
    if isinstance(v, int) and not isinstance(v, bool):
        return check_int(v, name)  # 64 bits
    raise _bad(name, "an integer", v)


def _as_float(v, name, _):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return check_real(v, name)  # finite: no NaN, no inf
    raise _bad(name, "a number", v)


def _as_str(v, name, _):
    if isinstance(v, str):
        return v
    raise _bad(name, "a string", v)


def _as_list(v, name, args):
    if not isinstance(v, (list, tuple)):
        raise _bad(name, "a list", v)
    return [_coerce(args[0], item, f"{name}[{i}]") for i, item in enumerate(v)] if args else list(v)


def _as_dict(v, name, _):
    if isinstance(v, Mapping):
        return dict(v)
    raise _bad(name, "a mapping", v)


_SCALARS = {bool: _as_bool, int: _as_int, float: _as_float, str: _as_str, list: _as_list,
            tuple: _as_list, dict: _as_dict}


def to_dict(obj) -> dict:
    """Plain nested dict of a config dataclass (for YAML/JSON)."""
    return dataclasses.asdict(obj)


def used_if(predicate, **kwargs) -> dataclasses.Field:
    """A dataclass field that only matters when ``predicate(config)`` holds (e.g. ``model.sigma``
    for the Gaussian likelihood); :func:`used_dict` leaves it out otherwise. ``kwargs`` go to
    ``dataclasses.field`` (``default=...`` or ``default_factory=...``)."""
    return dataclasses.field(metadata={"used_if": predicate}, **kwargs)


def used_dict(obj) -> dict:
    """Like :func:`to_dict`, without the fields that do not apply (see :func:`used_if`)."""
    out = {}
    for f in dataclasses.fields(obj):
        if "used_if" in f.metadata and not f.metadata["used_if"](obj):
            continue
        out[f.name] = _used(getattr(obj, f.name))
    return out


def _used(value):
    """:func:`used_dict` of a dataclass value, item by item in a list (``train.corrupt``)."""
    if dataclasses.is_dataclass(value):
        return used_dict(value)
    return [_used(v) for v in value] if isinstance(value, list) else value


def set_dotted(data: dict, dotted: str, value: Any) -> None:
    """``set_dotted(d, "train.lr", 3e-4)`` sets ``d["train"]["lr"]``, creating sections."""
    keys = dotted.split(".")
    if not all(keys):
        raise ConfigError(f"bad override key {dotted!r}")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {key!r} is not a section")
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.lr=3e-4"`` -> ``("train.lr", 0.0003)``; values are parsed as YAML scalars/lists."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like section.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"override {text!r}: value is not valid YAML") from None
    if isinstance(value, str) and is_number(value):
        value = float(value)
    return key.strip(), value


def is_number(s: str) -> bool:
    """Whether the text ``s`` reads as a float (``"1e-3"``, ``"nan"``, ``" 2 "``)."""
    try:
        float(s)
    except ValueError:
        return False
    return True


def deep_merge(base: dict, update: Mapping) -> dict:
    """Recursively merge ``update`` into a copy of ``base`` (mappings merge, other values replace).

    Nested mappings of ``update`` are copied too, so editing the result (``set_dotted``) never
    changes ``update`` (e.g. a registered preset).
    """
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping):
            out[key] = deep_merge(out[key] if isinstance(out.get(key), Mapping) else {}, value)
        else:
            out[key] = value
    return out


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; a missing or malformed file is a :class:`ConfigError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    return data
