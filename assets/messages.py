"""One-line messages for validation errors raised while declaring assets."""

from __future__ import annotations

from pydantic import ValidationError


def one_line(exc: BaseException) -> str:
    """Describe ``exc`` on one line; pydantic errors as ``Model: field: message``."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        field = f"{where}: " if where else ""
        return f"{exc.title}: {field}{message}{more}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
