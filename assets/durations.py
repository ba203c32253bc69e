"""Durations as people write them: ``90s``, ``30m``, ``2h``, ``7d``, ``1h30m``."""

from __future__ import annotations

import datetime as dt
import re

from partita.errors import DefinitionError

DURATION_FORMS = "a number and a unit: 90s, 30m, 2h, 7d, 1h30m (or 0s)"
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(value: str | float | dt.timedelta, *, what: str = "duration") -> float:
    """Seconds in a duration: a string such as ``2h`` or ``1h30m``, a number of seconds,
    or a ``timedelta``.

    Raises:
        DefinitionError: not a duration, or a negative one.
    """
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        spelled = value.strip().lower()
        parts = _DURATION.findall(spelled)
        if not parts or "".join(number + unit for number, unit in parts) != spelled:
            raise DefinitionError(f"bad {what} {value!r}: write {DURATION_FORMS}")
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    else:
        raise DefinitionError(f"bad {what} {value!r}: write {DURATION_FORMS}")
    if seconds < 0:
        raise DefinitionError(f"bad {what} {value!r}: it cannot be negative")
    return seconds


__all__ = ["DURATION_FORMS", "parse_duration"]
