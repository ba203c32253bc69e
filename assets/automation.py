"""Declarations of automation: schedules, eager assets and file sensors (pure, no I/O).

The daemon (``partita daemon``) evaluates them on every tick:

- a :class:`Schedule` materializes the partitions of its assets whose windows have
  closed, at the times of a cron expression in a timezone (plus an optional delay),
  catching up what it missed, a bounded number per tick;
- an asset declared with ``automation=Eager(...)`` is rebuilt when an upstream
  partition it maps to changes, within a window of its most recent partitions;
- a :class:`FileSensor` materializes an asset's partition when a new file matching its
  pattern appears under a folder (any fsspec URL).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from partita.assets.durations import parse_duration
from partita.assets.keys import check_safe_key
from partita.assets.partitions.cron import CronExpression
from partita.assets.partitions.timekeys import check_timezone
from partita.errors import DefinitionError

PLACEHOLDER = "{partition}"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def check_name(kind: str, name: str) -> str:
    if not _NAME.fullmatch(name):
        raise DefinitionError(
            f"{kind} name {name!r}: use letters, digits, '_', '-' and '.' (e.g. 'nightly')"
        )
    return name


class Schedule(BaseModel):
    """Materialize assets on a cron schedule: at each fire time (plus ``delay``), every
    partition whose window has closed by the fire time is built if missing or stale.

    Args:
        name: identifies the schedule in ``partita ticks`` and keeps its cursor.
        assets: the asset keys to materialize (their missing or stale upstream
            partitions are built first, as with ``partita materialize``).
        cron: a 5-field cron expression or a shortcut (``@daily``, ``@hourly``, ...).
        timezone: the IANA timezone the cron expression is read in.
        delay: how long after a fire time to run, e.g. ``"2h"``: ``@daily`` with a
            2-hour delay builds yesterday's partition at 02:00.
        catchup: after downtime, build every partition missed since the last tick (and,
            on the first tick, every partition since each asset's start); ``False``
            builds only the latest closed partition.
        max_per_tick: at most this many partitions of each asset per tick, oldest first;
            the rest wait for the next ticks, so a long outage cannot flood the system.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    assets: tuple[str, ...]
    cron: str = "@daily"
    timezone: str = "UTC"
    delay: float = 0.0
    catchup: bool = True
    max_per_tick: int = Field(default=10, ge=1)

    def __init__(self, name: str, /, **data: Any) -> None:
        with _declaring("schedule", name):
            super().__init__(name=name, **data)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name("schedule", value)

    @field_validator("assets", mode="before")
    @classmethod
    def _assets(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = (value,)
        if isinstance(value, Sequence) and not value:
            raise ValueError("name at least one asset in assets=[...]")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return CronExpression.parse(value).text

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("delay", mode="before")
    @classmethod
    def _delay(cls, value: Any) -> float:
        return parse_duration(value, what="delay")

    @property
    def expression(self) -> CronExpression:
        """The parsed cron expression."""
        return CronExpression.parse(self.cron)


class Eager(BaseModel):
    """Rebuild an asset's partitions when upstream data they map to changes.

    Give it as ``@asset(automation=Eager(window=7))``. On each tick the daemon rebuilds
    the partitions among the ``window`` most recent ones that are missing or stale while
    their upstream partitions are all present and fresh; older history is left alone, so
    switching automation on over a long stale history never floods the system.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: int = Field(default=30, ge=1)


class FileSensor(BaseModel):
    """Materialize an asset's partition when a matching file appears.

    Args:
        name: identifies the sensor in ``partita ticks`` and keeps the files it has seen.
        asset: the partitioned asset to materialize.
        url: the folder to watch: a local path (relative to the project) or an fsspec URL
            (``s3://bucket/incoming``).
        pattern: a glob relative to ``url`` with one ``{partition}`` placeholder that
            matches the partition key, e.g. ``"sales-{partition}.csv"``.
        storage_options: fsspec options for ``url`` (endpoint...); credentials are best
            given through the environment.

    A file that is new, or changed since the sensor last saw it, materializes its
    partition even when the partition is fresh (the file is new data).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    asset: str
    url: str
    pattern: str
    storage_options: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, name: str, /, **data: Any) -> None:
        with _declaring("sensor", name):
            super().__init__(name=name, **data)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name("sensor", value)

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if value.count(PLACEHOLDER) != 1:
            raise ValueError(
                f"pattern {value!r} needs exactly one {PLACEHOLDER} placeholder, "
                "e.g. 'sales-{partition}.csv'"
            )
        for part in value.split("/"):
            if part in ("", ".", ".."):
                raise ValueError(f"pattern {value!r} must stay under url: no '..' or '//'")
        check_safe_key(value.replace(PLACEHOLDER, "x").replace("/", "_").replace("*", "x"))
        return value


@contextlib.contextmanager
def _declaring(kind: str, name: str) -> Iterator[None]:
    """Turn what a declaration's validation raises into one DefinitionError naming it."""
    try:
        yield
    except (DefinitionError, ValueError) as exc:
        raise DefinitionError(f"{kind} {name!r}: {_first_error(exc)}") from exc


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = str(first.get("msg", exc)).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(exc)


__all__ = ["PLACEHOLDER", "Eager", "FileSensor", "Schedule", "check_name"]
