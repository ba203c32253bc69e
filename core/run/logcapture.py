"""Keep the log records of each attempt: ``ctx.log`` and standard ``logging`` in a step."""

from __future__ import annotations

import contextlib
import contextvars
import logging
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


def _install() -> None:
    assets = logging.getLogger(ASSET_LOGGER)
    if _handler in assets.handlers and _handler in logging.getLogger().handlers:
        return  # already installed (setLevel below would clear every logger's cache)
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
    assets.setLevel(logging.DEBUG)
    assets.propagate = False  # kept with the attempt, not printed over the progress bar
    if _handler not in assets.handlers:
        assets.addHandler(_handler)


def asset_logger(asset: str) -> logging.Logger:
    """The logger handed to a step as ``ctx.log``."""
    _install()
    return logging.getLogger(f"{ASSET_LOGGER}.{asset.replace('/', '.')}")


@contextlib.contextmanager
def capture() -> Iterator[list[tuple[float, str, str]]]:
    """Collect the records logged in this thread while the block runs, as
    ``(timestamp, level, message)``, in the list yielded (filled when the block ends)."""
    _install()
    records: list[logging.LogRecord] = []
    lines: list[tuple[float, str, str]] = []
    token = _buffer.set(records)
    try:
        yield lines
    finally:
        _buffer.reset(token)
        for record in records:
            try:
                message = record.getMessage()
            except Exception as exc:  # a bad format string must not lose the attempt
                message = f"{record.msg!r} (unformattable: {exc})"
            if record.exc_info and record.exc_info[1] is not None:
                message += f" [{type(record.exc_info[1]).__name__}: {record.exc_info[1]}]"
            lines.append((record.created or time.time(), record.levelname, message))
