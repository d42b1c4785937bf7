"""Built-in data sources; importing this package registers them in ``vaekit.data.SOURCES``."""

from . import amat, arrays, digits, idx, images, tabular  # noqa: F401
from . import shapes  # noqa: F401
