"""Built-in data sources; importing this package registers them in ``vaekit.data.SOURCES``."""

from . import digits, idx  # noqa: F401
