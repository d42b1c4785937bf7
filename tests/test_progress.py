"""Progress display: the mode by where output goes, heartbeat lines, bar size in a 0 x 0 pty, logging."""

from __future__ import annotations

import logging
import os
import pty
import sys

import pytest

from vaekit import progress
from vaekit.errors import ConfigError


@pytest.fixture(autouse=True)
def _restore_settings():
    saved = (progress.settings.mode, progress.settings.heartbeat)
    yield
    progress.configure(*saved)


def test_log_mode_writes_heartbeats_and_a_closing_line(caplog, monkeypatch):
    progress.configure(mode="log", heartbeat=0)
    caplog.set_level(logging.INFO, logger="vaekit")
    with progress.task(4, "scoring", "example") as t:
        for _ in range(2):
            t.update(2)
    lines = [r.getMessage() for r in caplog.records if r.name == "vaekit.progress"]
    assert lines[0].startswith("scoring: 2/4 examples (50%), ") and "ETA" in lines[0]
    assert lines[1].startswith("scoring: 4/4 examples (100%), ") and lines[1].endswith("ETA 0.0 s")
    assert lines[2].startswith("scoring: done, 4 examples in ")


def test_heartbeat_interval_and_quiet(caplog):
    caplog.set_level(logging.INFO, logger="vaekit")
    progress.configure(mode="log", heartbeat=3600)
    with progress.task(10, "slow", "step") as t:
        t.update(10)
    progress.configure(mode="off", heartbeat=0)
    with progress.task(10, "quiet", "step") as t:
        t.update(10)
    with progress.task(10, "disabled", "step", enabled=False) as t:
        t.update(10)
    assert caplog.records == []  # no beat within the interval, none when off or disabled


def test_mode_follows_the_output(monkeypatch):
    progress.configure(mode="auto")
    monkeypatch.setattr(sys, "stderr", open(os.devnull, "w"))
    assert progress.mode() == "log"  # a file, a pipe, CI

    class Tty:
        def isatty(self):
            return True
    monkeypatch.setattr(sys, "stderr", Tty())
    assert progress.mode() == "bar"
    with pytest.raises(ConfigError, match="progress mode"):
        progress.configure(mode="fancy")


def test_a_zero_by_zero_pty_gets_a_fixed_bar_size(monkeypatch):
    master, slave = pty.openpty()  # a new pty reports 0 columns and 0 rows
    try:
        with os.fdopen(os.dup(slave), "w") as tty:
            monkeypatch.setattr(sys, "stderr", tty)
            monkeypatch.delenv("COLUMNS", raising=False)
            monkeypatch.delenv("LINES", raising=False)
            assert os.get_terminal_size(tty.fileno()) == (0, 0)
            assert progress.bar_size() == (80, 24)
            monkeypatch.setenv("COLUMNS", "120")
            assert progress.bar_size() == (120, 24)
    finally:
        os.close(master)
        os.close(slave)


def test_format_seconds():
    assert [progress.format_seconds(s) for s in (4.24, 42.4, 185, 7620, float("nan"))] == \
        ["4.2 s", "42 s", "3 min 05 s", "2 h 07 min", "?"]


def test_default_logging_only_when_nothing_is_configured(monkeypatch):
    lib, root = logging.getLogger("vaekit"), logging.getLogger()
    monkeypatch.setattr(lib, "handlers", [])
    monkeypatch.setattr(root, "handlers", [logging.NullHandler()])
    progress.default_logging()
    assert lib.handlers == []  # the application configured logging: leave it alone
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(lib, "level", logging.NOTSET)
    progress.default_logging()
    assert len(lib.handlers) == 1 and lib.level == logging.INFO


def test_line_formatter():
    fmt = progress.LineFormatter()
    record = lambda level: logging.LogRecord("vaekit.x", level, "", 0, "hello %d", (1,), None)  # noqa: E731
    assert fmt.format(record(logging.INFO)) == "vaekit: hello 1"
    assert fmt.format(record(logging.WARNING)) == "vaekit: warning: hello 1"
    assert fmt.format(record(logging.DEBUG)) == "vaekit: debug: vaekit.x: hello 1"


def test_jupyter_gets_the_notebook_bar_or_log_lines_without_widgets(monkeypatch):
    import importlib.util

    progress.configure(mode="auto")
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    assert progress.mode() == "notebook"
    if importlib.util.find_spec("ipywidgets") is None:  # tqdm cannot draw its widget: log lines instead
        with progress.task(3, "cells", "cell") as t:
            assert t.mode == "log" and t.bar is None
