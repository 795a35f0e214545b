"""Two output channels: a terse console on stderr and a full debug log file.

`Run` is created once per CLI invocation. It opens the log file (whose path is printed
at the start and the end), picks the console style (rich on a terminal, plain
timestamped lines when stderr is not a TTY or `CI=true`), and carries the reporter that
library code receives. Library code never prints: it logs through `logging` and reports
progress through a `Reporter`. Machine-readable results go to stdout, only there.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from installer import redact

LOG = logging.getLogger("kfstack")

OK, FAIL, SKIP, RESUME = "✓", "⨯", "-", "↺"


def default_log_dir() -> Path:
    """Where runs that are not tied to a spec's work directory keep their logs."""
    env = os.environ.get("KFSTACK_LOG_DIR")
    if env:
        return Path(env)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "kfstack" / "logs"


def plain_mode(stream: TextIO) -> bool:
    """Plain timestamped lines when not on a terminal or under CI."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        return True
    return not (hasattr(stream, "isatty") and stream.isatty())


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact.redact(record.getMessage())
        record.args = ()
        return True


class Reporter:
    """Progress as library code reports it. The base class is silent (for library use)."""

    def phase(self, number: int, total: int, title: str) -> None:
        LOG.info("[%d/%d] %s", number, total, title)

    def line(self, text: str) -> None:
        LOG.info("%s", text)

    def ok(self, text: str) -> None:
        LOG.info("%s %s", OK, text)

    def warn(self, text: str) -> None:
        LOG.warning("%s", text)

    def fail(self, text: str) -> None:
        LOG.error("%s %s", FAIL, text)

    def progress(self, label: str, done: int, total: int | None, detail: str = "") -> None:
        LOG.debug("%s %s/%s %s", label, done, total if total is not None else "?", detail)


class ConsoleReporter(Reporter):
    """Reports to stderr: rich styling on a terminal, timestamped plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.plain = plain_mode(self.stream)
        self.quiet = quiet
        self._started = time.monotonic()
        self._last_progress: dict[str, float] = {}
        self._rich = None
        if not self.plain:
            from rich.console import Console

            self._rich = Console(file=self.stream, highlight=False, soft_wrap=True)

    def _emit(self, text: str, style: str | None = None) -> None:
        text = redact.redact(text)
        if self.quiet:
            return
        if self._rich is not None:
            self._rich.print(text, style=style, markup=False)
        else:
            stamp = _dt.datetime.now().strftime("%H:%M:%S")
            self.stream.write(f"{stamp} {text}\n")
            self.stream.flush()

    def phase(self, number: int, total: int, title: str) -> None:
        super().phase(number, total, title)
        self._emit(f"[{number}/{total}] {title}", "bold")

    def line(self, text: str) -> None:
        super().line(text)
        self._emit(text)

    def ok(self, text: str) -> None:
        super().ok(text)
        self._emit(f"{OK} {text}", "green")

    def warn(self, text: str) -> None:
        super().warn(text)
        self._emit(f"! {text}", "yellow")

    def fail(self, text: str) -> None:
        super().fail(text)
        self._emit(f"{FAIL} {text}", "red")

    def progress(self, label: str, done: int, total: int | None, detail: str = "") -> None:
        super().progress(label, done, total, detail)
        # Throttled: at most one line every 2 s per label, plus the final one.
        now = time.monotonic()
        final = total is not None and done >= total
        if not final and now - self._last_progress.get(label, 0.0) < 2.0:
            return
        self._last_progress[label] = now
        elapsed = now - self._started
        count = f"{done}/{total}" if total is not None else str(done)
        suffix = f" {detail}" if detail else ""
        self._emit(f"  {label}: {count} ({elapsed:.0f}s){suffix}", "dim")


class Run:
    """One CLI invocation: its log file, its reporter, and its JSON output switch."""

    def __init__(self, command: str, *, output: str = "text", debug: bool = False) -> None:
        self.command = command
        self.output = output
        self.debug = debug
        self.log_path: Path | None = None
        self._handler: logging.Handler | None = None
        self._saved_logger: tuple[int, bool] = (logging.NOTSET, True)
        self.reporter: Reporter = ConsoleReporter()
        self.started = time.monotonic()

    def open_log(self, directory: Path | None = None) -> Path:
        """Open (or move to) the log file for this run and announce its path."""
        directory = Path(directory) if directory else default_log_dir()
        directory.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = directory / f"{stamp}-{self.command}-{os.getpid()}.log"
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )
        handler.addFilter(_RedactingFilter())
        if self._handler is not None:
            LOG.removeHandler(self._handler)
            self._handler.close()
        else:
            self._saved_logger = (LOG.level, LOG.propagate)
        LOG.setLevel(logging.DEBUG)
        LOG.addHandler(handler)
        # The run's file is the whole record; nothing should also reach the root logger.
        LOG.propagate = False
        self._handler = handler
        self.log_path = path
        LOG.debug("kfstack %s (pid %d), argv=%s", self.command, os.getpid(), sys.argv)
        self.reporter.line(f"Log: {path}")
        return path

    def close(self) -> None:
        """Close the log file and give the `kfstack` logger back as it was (a process that
        runs several commands, such as a test session, must not inherit this run's setup)."""
        if self._handler is not None:
            LOG.removeHandler(self._handler)
            self._handler.close()
            self._handler = None
            LOG.setLevel(self._saved_logger[0])
            LOG.propagate = self._saved_logger[1]

    def emit_json(self, data: Any, stream: TextIO | None = None) -> None:
        """Write the machine-readable result to stdout, with secrets masked."""
        text = json.dumps(data, indent=2, sort_keys=False, default=str)
        stream = stream or sys.stdout
        stream.write(redact.redact(text) + "\n")
        stream.flush()

    def echo(self, text: str = "", stream: TextIO | None = None) -> None:
        """Human-readable primary output (tables, reports) on stdout."""
        stream = stream or sys.stdout
        stream.write(redact.redact(text) + "\n")
        stream.flush()

    @contextmanager
    def timed(self) -> Iterator[dict[str, float]]:
        box: dict[str, float] = {}
        start = time.monotonic()
        try:
            yield box
        finally:
            box["seconds"] = time.monotonic() - start
