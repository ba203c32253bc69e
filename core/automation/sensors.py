"""File sensors: materialize an asset's partition when a file for it appears or changes.

A :class:`SensorEvaluator` (source ``sensor:<name>``) lists the sensor's folder afresh on
every tick and matches each file's path, relative to the folder, against the pattern:
``{partition}`` matches part of one path segment (no ``/``), ``*`` any characters within
a segment, ``?`` one, ``**/`` any number of folders. The placeholder's text is read as a
partition key of the asset (``space.parse``: ``2026-04-08``, ``date=2026-04-08,region=eu``
...); a file naming a key the asset does not have (malformed, before its start, not
complete yet) is named in the notes and skipped, and looked at again on the next tick.

The cursor is JSON mapping each path seen to its signature (ETag, or size and
modification time): ``{"files": {"sales-2026-04-08.csv": "etag:..."}}``. A file whose
signature is not in the cursor is new or rewritten: its partition is requested, forced
(the file is new data even if the partition is fresh); several such files of one
partition make one request. Only paths still present are kept, so the cursor is bounded
by the folder. A partition being built right now is left for a later tick (its files are
not marked as seen).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from partita.assets import UNPARTITIONED, FileSensor
from partita.assets.automation import PLACEHOLDER
from partita.core.automation.decisions import Decision, Request, TickContext
from partita.errors import DefinitionError, StorageError
from partita.storage.store.listing import ListedFile, list_files

if TYPE_CHECKING:
    from partita.core.project import Project

SOURCE_PREFIX = "sensor:"
_SHOWN = 10  # files named in a note before "... and N more"
_WILDCARDS = frozenset("*?[{")


class SensorEvaluator:
    """Requests the partitions of a sensor's asset whose files are new or changed.

    Args:
        sensor: The sensor declaration.
        project_root: The project directory, which a relative local ``url`` is read from.
    """

    def __init__(self, sensor: FileSensor, project_root: str | os.PathLike[str]) -> None:
        self.sensor = sensor
        self.url = watched_url(sensor.url, project_root)
        self.under, self.pattern = compile_pattern(sensor.pattern)

    @property
    def source(self) -> str:
        """``sensor:<name>``."""
        return f"{SOURCE_PREFIX}{self.sensor.name}"

    def __repr__(self) -> str:
        return f"SensorEvaluator({self.sensor.name!r})"

    def evaluate(self, tick: TickContext, cursor: str | None) -> Decision:
        """List the folder and request the partitions of new or changed files.

        Raises:
            StorageError: The folder cannot be listed (an error of this source only,
                for this tick: one line, credentials redacted).
        """
        try:
            files = list_files(self.url, self.sensor.storage_options, under=self.under)
        except StorageError as exc:
            raise StorageError(f"sensor {self.sensor.name!r}: {exc}") from exc
        previous = _read_cursor(cursor)
        seen: dict[str, str] = {}
        new: dict[str, list[str]] = {}  # partition -> its new or changed files
        skipped: list[str] = []
        busy: list[str] = []
        matched = 0
        for file in files:
            key = self._key(tick, file, skipped)
            if key is None:
                if file.path in previous:
                    seen[file.path] = previous[file.path]
                continue
            matched += 1
            if previous.get(file.path) == file.signature:
                seen[file.path] = file.signature
            elif (self.sensor.asset, key) in tick.leased:
                busy.append(file.path)
                if file.path in previous:
                    seen[file.path] = previous[file.path]
            else:
                new.setdefault(key, []).append(file.path)
                seen[file.path] = file.signature
        return Decision(
            source=self.source,
            requests=self._requests(tick, new),
            cursor=None if seen == previous else json.dumps({"files": seen}, sort_keys=True),
            notes=tuple(_notes(new, skipped, busy, matched)),
        )

    def _key(self, tick: TickContext, file: ListedFile, skipped: list[str]) -> str | None:
        # The partition a file names, or None if it does not match or names none (noted).
        found = self.pattern.fullmatch(file.path)
        if found is None:
            return None
        space = tick.resolver.space(self.sensor.asset)
        if space is None:
            return UNPARTITIONED
        try:
            return space.parse(found.group("partition"), asset=self.sensor.asset)
        except DefinitionError as exc:
            skipped.append(f"{file.path} ({exc})")
            return None

    def _requests(self, tick: TickContext, new: dict[str, list[str]]) -> tuple[Request, ...]:
        if not new:
            return ()
        space = tick.resolver.space(self.sensor.asset)
        keys = sorted(new, key=lambda key: space.index(key) or 0) if space else list(new)
        return (Request(self.sensor.asset, tuple(keys), force=True),)


def sensor_evaluators(project: Project) -> list[SensorEvaluator]:
    """One evaluator per :class:`FileSensor` of the definitions, by name."""
    sensors = project.definitions.sensors
    return [SensorEvaluator(sensors[name], project.root) for name in sorted(sensors)]


def watched_url(url: str, project_root: str | os.PathLike[str]) -> str:
    """``url`` as fsspec takes it: a relative local path is made absolute under the project."""
    if "://" in url or os.path.isabs(url):
        return url
    return str(Path(project_root) / url)


def compile_pattern(pattern: str) -> tuple[str, re.Pattern[str]]:
    """The folder to list (the pattern's leading literal folders) and the pattern's regex.

    The regex matches paths relative to the sensor's url, with the ``partition`` group
    holding the placeholder's text.
    """
    segments = pattern.split("/")
    literal = 0
    while literal < len(segments) - 1 and _WILDCARDS.isdisjoint(segments[literal]):
        literal += 1
    regex = []
    i = 0
    while i < len(pattern):
        if pattern.startswith(PLACEHOLDER, i):
            regex.append("(?P<partition>[^/]+)")
            i += len(PLACEHOLDER)
        elif pattern.startswith("**/", i):
            regex.append("(?:[^/]+/)*")
            i += 3
        elif pattern[i] == "*":
            regex.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            regex.append("[^/]")
            i += 1
        else:
            regex.append(re.escape(pattern[i]))
            i += 1
    return "/".join(segments[:literal]), re.compile("".join(regex))


def _notes(
    new: dict[str, list[str]], skipped: list[str], busy: list[str], matched: int
) -> list[str]:
    notes = []
    if new:
        files = [path for paths in new.values() for path in paths]
        count = len(new)
        notes.append(
            f"{len(files)} new or changed file{'s' if len(files) > 1 else ''}, "
            f"{count} partition{'s' if count > 1 else ''} requested: {_listing(files)}"
        )
    else:
        notes.append(f"no new or changed files ({matched} matching, all seen)")
    if busy:
        notes.append(
            f"{len(busy)} left for a later tick, their partition being built: {_listing(busy)}"
        )
    if skipped:
        notes.append(
            f"{len(skipped)} skipped, naming no partition of the asset: {_listing(skipped)}"
        )
    return notes


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown if len(items) <= _SHOWN else f"{shown}, ... and {len(items) - _SHOWN} more"


def _read_cursor(cursor: str | None) -> dict[str, str]:
    # A cursor that cannot be read is taken as none: every file is then new once.
    if not cursor:
        return {}
    try:
        found = json.loads(cursor).get("files", {})
    except (ValueError, AttributeError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(path): str(signature) for path, signature in found.items()}


__all__ = ["SensorEvaluator", "compile_pattern", "sensor_evaluators", "watched_url"]
