"""Keep the log records of each attempt: ``ctx.log`` and standard ``logging`` in a step.

Records are collected into the running attempt's buffer, found through a context
variable, so steps running at once in threads keep their own lines. ``ctx.log`` is a
child of the ``partita.asset`` logger, which partita owns: its handler is there for
good, and its records do not propagate to the host application's handlers (nor can the
host's ``logging.config.dictConfig``, which disables the loggers it does not name, silence
them). Records of
other loggers (a library a step calls) reach the root logger; the handler sits there
only while a step of this process is being captured, and is removed after the last one,
so the host application's root logger is left as it was.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Iterator

_buffer: contextvars.ContextVar[list[logging.LogRecord] | None] = contextvars.ContextVar(
    "partita_attempt_logs", default=None
)
ASSET_LOGGER = "partita.asset"


class _AttemptHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        buffer = _buffer.get()
        if buffer is not None:
            buffer.append(record)


_handler = _AttemptHandler(level=logging.DEBUG)
_capturing = 0  # steps of this process being captured: the root handler is there while > 0
_lock = threading.Lock()


def _install_asset_logger() -> logging.Logger:
    assets = logging.getLogger(ASSET_LOGGER)
    assets.disabled = False  # a host's dictConfig disables the loggers it does not name
    if _handler not in assets.handlers:  # setLevel clears every logger's cache: once
        assets.setLevel(logging.DEBUG)
        assets.propagate = False  # kept with the attempt, not printed over the progress bar
        assets.addHandler(_handler)
    return assets


def asset_logger(asset: str) -> logging.Logger:
    """The logger handed to a step as ``ctx.log``."""
    _install_asset_logger()
    logger = logging.getLogger(f"{ASSET_LOGGER}.{asset.replace('/', '.')}")
    logger.disabled = False
    return logger


@contextlib.contextmanager
def _on_root() -> Iterator[None]:
    """The attempt handler on the root logger while this block runs (and others' do)."""
    global _capturing
    with _lock:
        _capturing += 1
        if _capturing == 1:
            logging.getLogger().addHandler(_handler)
    try:
        yield
    finally:
        with _lock:
            _capturing -= 1
            if _capturing == 0:
                logging.getLogger().removeHandler(_handler)


@contextlib.contextmanager
def capture() -> Iterator[list[tuple[float, str, str]]]:
    """Collect the records logged in this thread while the block runs, as
    ``(timestamp, level, message)``, in the list yielded (filled when the block ends)."""
    _install_asset_logger()
    records: list[logging.LogRecord] = []
    lines: list[tuple[float, str, str]] = []
    token = _buffer.set(records)
    try:
        with _on_root():
            yield lines
    finally:
        _buffer.reset(token)
        lines.extend(_line(record) for record in records)


def _line(record: logging.LogRecord) -> tuple[float, str, str]:
    try:
        message = record.getMessage()
    except Exception as exc:  # a bad format string must not lose the attempt
        message = f"{record.msg!r} (unformattable: {exc})"
    if record.exc_info and record.exc_info[1] is not None:
        message += f" [{type(record.exc_info[1]).__name__}: {record.exc_info[1]}]"
    return (record.created or time.time(), record.levelname, message)


__all__ = ["ASSET_LOGGER", "asset_logger", "capture"]
