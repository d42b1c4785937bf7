"""How long work shows itself: a tqdm bar on a terminal, tqdm's widget in Jupyter, log lines elsewhere.

Library code wraps each long loop in :func:`task` and calls ``update``; what the user then sees
depends on where the output goes (:func:`mode`):

- ``bar``: stderr is a terminal. A tqdm bar, sized to the terminal, or 80 x 24 when the terminal
  reports 0 x 0 (a pty under ``script``, some CI runners), where tqdm alone draws nothing.
- ``notebook``: inside a Jupyter kernel. tqdm's notebook widget (needs ``ipywidgets``; without it,
  ``log`` mode).
- ``log``: anything else (a file, a pipe, CI, Python without a TTY). No bar; a heartbeat line
  ``<what>: 120/469 steps (26%), 31 s elapsed, ETA 1 min 30 s`` through :mod:`logging` every
  :attr:`Settings.heartbeat` seconds (default 30), and a closing line for work that took that long.
- ``off``: nothing (``vaekit -q``).

Per-epoch and start/finish lines are ordinary ``logging`` INFO records of the modules that do the
work. The CLI configures logging (:func:`LogHandler`, ``-v`` / ``-q``); in Python, when the
application configured no logging at all, :func:`default_logging` shows vaekit's INFO lines on
stderr (as PyTorch Lightning does), and an application's own logging configuration wins.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import time
from dataclasses import dataclass

from .errors import ConfigError

log = logging.getLogger(__name__)
MODES = ("auto", "bar", "notebook", "log", "off")
#: Columns of the bar when the terminal reports none (0 columns) or fewer than this.
MIN_COLUMNS = 20
FALLBACK_COLUMNS = 80
FALLBACK_ROWS = 24
#: A bar appears only for work that takes longer than this many seconds (no flicker for short loops).
BAR_DELAY = 0.5


@dataclass
class Settings:
    """Process-wide progress display settings (set by the CLI's ``-q`` / ``--heartbeat``).

    Attributes:
        mode: one of :data:`MODES`; "auto" chooses by where stderr goes.
        heartbeat: seconds between heartbeat lines in ``log`` mode.
    """

    mode: str = "auto"
    heartbeat: float = 30.0


settings = Settings()


def configure(mode: str | None = None, heartbeat: float | None = None) -> Settings:
    """Change the progress settings (None keeps a value); returns them."""
    if mode is not None:
        if mode not in MODES:
            raise ConfigError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
        settings.mode = mode
    if heartbeat is not None:
        if not heartbeat >= 0:
            raise ConfigError(f"heartbeat interval must be >= 0 seconds, got {heartbeat}")
        settings.heartbeat = float(heartbeat)
    return settings


def in_notebook() -> bool:
    """True inside a Jupyter (ZMQ) kernel."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def mode() -> str:
    """The display mode in force: "bar", "notebook", "log" or "off"."""
    if settings.mode != "auto":
        return settings.mode
    if in_notebook():
        return "notebook"
    stream = sys.stderr
    return "bar" if stream is not None and hasattr(stream, "isatty") and stream.isatty() else "log"


def bar_size() -> tuple[int, int] | None:
    """``(columns, rows)`` for a tqdm bar on stderr, or None when the terminal reports a usable size
    (tqdm then follows it as it changes). A pty that reports 0 x 0 (``script``, some CI runners)
    gets ``$COLUMNS`` x ``$LINES`` or 80 x 24: tqdm alone draws nothing there (it hides bars below
    the last row)."""
    try:
        cols, rows = os.get_terminal_size(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        cols, rows = 0, 0
    if cols >= MIN_COLUMNS and rows >= 2:
        return None
    return (cols if cols >= MIN_COLUMNS else _env_int("COLUMNS", MIN_COLUMNS, FALLBACK_COLUMNS),
            rows if rows >= 2 else _env_int("LINES", 2, FALLBACK_ROWS))


def _env_int(name: str, least: int, default: int) -> int:
    text = os.environ.get(name, "")
    return int(text) if text.isdigit() and int(text) >= least else default


def format_seconds(seconds: float) -> str:
    """``4.2 s``, ``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class Task:
    """One piece of long work: ``update(n)`` as it advances; a context manager that closes itself.

    Args:
        total: units of work (steps, examples); 0 or None when unknown.
        desc: what is being done, e.g. ``"epoch 3/10"`` (``set_description`` changes it).
        unit: name of one unit, e.g. "step" or "example".
        enabled: False shows nothing (e.g. ``train.progress: false`` or a non-zero rank).
    """

    def __init__(self, total: int | None, desc: str, unit: str = "it", enabled: bool = True) -> None:
        self.total, self.desc, self.unit, self.n = total or 0, desc, unit, 0
        self.mode = mode() if enabled else "off"
        self.start = self.last_beat = time.monotonic()
        self.beats = 0
        self.bar = _tqdm(self) if self.mode in ("bar", "notebook") else None
        if self.bar is None and self.mode == "notebook":
            self.mode = "log"

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.mode == "log" and time.monotonic() - self.last_beat >= settings.heartbeat:
            self.beat()

    def beat(self) -> None:
        """Log one heartbeat line: done / total, elapsed time and the estimated time left."""
        now = time.monotonic()
        elapsed = now - self.start
        done = f"{self.n}/{self.total} {self.unit}s ({100 * self.n / self.total:.0f}%)" if self.total else \
            f"{self.n} {self.unit}s"
        eta = (self.total - self.n) * elapsed / self.n if self.total and self.n else float("nan")
        log.info("%s: %s, %s elapsed, ETA %s", self.desc, done, format_seconds(elapsed), format_seconds(eta))
        self.last_beat, self.beats = now, self.beats + 1

    def set_description(self, desc: str) -> None:
        self.desc = desc
        if self.bar is not None:
            self.bar.set_description(desc, refresh=False)

    def set_postfix(self, **values) -> None:
        """Short ``name=value`` figures shown after a bar (log lines carry their own)."""
        if self.bar is not None:
            self.bar.set_postfix({k: str(v) for k, v in values.items()}, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.mode == "log" and self.beats:
            log.info("%s: done, %d %ss in %s", self.desc, self.n, self.unit, format_seconds(time.monotonic() - self.start))
        self.mode = "off"

    def __enter__(self) -> "Task":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def task(total: int | None, desc: str, unit: str = "it", enabled: bool = True) -> Task:
    """A :class:`Task` shown as the current :func:`mode` says (call :func:`default_logging` first)."""
    default_logging()
    return Task(total, desc, unit, enabled)


def _tqdm(t: Task):
    """The tqdm bar of a task (None when the notebook widget is unavailable)."""
    if t.mode == "notebook":
        if importlib.util.find_spec("ipywidgets") is None:  # tqdm cannot draw its widget without it
            return None
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm(total=t.total or None, desc=t.desc, unit=t.unit, leave=False)
    from tqdm import tqdm

    size = bar_size()
    cols, rows = size or (None, None)
    return tqdm(total=t.total or None, desc=t.desc, unit=t.unit, file=sys.stderr, leave=False, mininterval=0.5,
                delay=BAR_DELAY, dynamic_ncols=size is None, ncols=cols, nrows=rows)


class LogHandler(logging.Handler):
    """Log records to the current ``sys.stderr`` without breaking an open tqdm bar.

    Args:
        only_unconfigured: emit only while the root logger has no handlers (the default handler of
            :func:`default_logging`, which must not double an application's own configuration).
    """

    def __init__(self, level: int = logging.NOTSET, only_unconfigured: bool = False) -> None:
        super().__init__(level)
        self.only_unconfigured = only_unconfigured
        self.setFormatter(LineFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        if self.only_unconfigured and logging.getLogger().handlers:
            return
        try:
            msg = self.format(record)
            stream = sys.stderr
            if "tqdm" in sys.modules:
                from tqdm import tqdm

                tqdm.write(msg, file=stream)
            else:
                stream.write(msg + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001  (logging must never raise; Handler.handleError reports it)
            self.handleError(record)


class LineFormatter(logging.Formatter):
    """``vaekit: message`` for INFO, ``vaekit: warning: message`` above, with the logger's name for DEBUG."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.levelno == logging.INFO:
            return f"vaekit: {text}"
        if record.levelno < logging.INFO:
            return f"vaekit: debug: {record.name}: {text}"
        return f"vaekit: {record.levelname.lower()}: {text}"


def default_logging() -> None:
    """Show vaekit's INFO lines on stderr when the application configured no logging (no handler on
    the root or ``vaekit`` logger). Later configuration of the root logger takes over."""
    lib = logging.getLogger("vaekit")
    if lib.handlers or logging.getLogger().handlers:
        return
    lib.addHandler(LogHandler(only_unconfigured=True))
    if lib.level == logging.NOTSET:
        lib.setLevel(logging.INFO)


def configure_logging(level: int) -> LogHandler:
    """The CLI's logging: vaekit's records at ``level`` and above on stderr (one handler, replaced
    on each call)."""
    lib = logging.getLogger("vaekit")
    for handler in [h for h in lib.handlers if isinstance(h, LogHandler)]:
        lib.removeHandler(handler)
    handler = LogHandler()
    lib.addHandler(handler)
    lib.setLevel(level)
    return handler
