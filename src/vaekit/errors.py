"""Exception types. The CLI turns every :class:`VaekitError` into one line and exit status 2."""

from __future__ import annotations


class VaekitError(Exception):
    """Base class of all errors that are the user's input, not a bug in vaekit."""


class ConfigError(VaekitError, ValueError):
    """A configuration key, value or type is wrong."""


class DataError(VaekitError, ValueError):
    """A data source is missing, corrupt or inconsistent. The message names the file."""


class CheckpointError(VaekitError):
    """A run directory or checkpoint is missing, truncated, tampered or inconsistent."""


class TrainingError(VaekitError, RuntimeError):
    """Training cannot continue (e.g. too many consecutive non-finite steps)."""
