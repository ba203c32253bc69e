"""The small interfaces core depends on: a reader and a writer of state, a partition
store, named leases.

:class:`~partita.storage.catalog.facade.Catalog` is a :class:`StateReader` and a
:class:`StateWriter`; :class:`~partita.storage.store.datastore.DataStore` is a
:class:`PartitionStore`; :class:`~partita.storage.catalog.leases.Leases` is a
:class:`NamedLeases`. They are protocols, so a test double or another backend needs
no base class, only the methods.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from partita.errors import LeaseLostError
from partita.storage.records import (
    AttemptEnd,
    LogLine,
    PartitionStates,
    RunRecord,
    VersionRecord,
    WrittenVersion,
)
from partita.storage.statuses import RunStatus

if TYPE_CHECKING:
    from partita.storage.catalog.reports import PartitionStats, RunStats, TableFiles, Totals


class Reports(Protocol):
    """Bulk reads over the whole record: for queries, lineage and metrics."""

    def table_files(self) -> list[TableFiles]:
        """The files of every asset's current table versions."""
        ...

    def versions_of(self, asset: str, partitions: Collection[str]) -> list[VersionRecord]:
        """Every version ever committed of some partitions of ``asset``, newest first."""
        ...

    def partition_stats(
        self, asset: str, limit: int | None, partitions: Collection[str] | None = None
    ) -> list[PartitionStats]:
        """The current versions of some partitions with the duration of their builds."""
        ...

    def run_stats(self, limit: int) -> list[RunStats]:
        """The newest runs, with their steps per status and what they wrote."""
        ...

    def totals(self, recent: int) -> Totals:
        """Counts and sums over the whole record, for metrics."""
        ...


class StateReader(Protocol):
    """What planning, status and inspection read: partition states, versions, runs.

    Reads never write: a reader may work on a read-only database.
    """

    def states(self, assets: Collection[str]) -> dict[str, PartitionStates]:
        """The state of every recorded partition of ``assets``."""
        ...

    def states_of(self, wanted: Mapping[str, Collection[str]]) -> dict[str, PartitionStates]:
        """The state of some partitions of some assets."""
        ...

    def versions(self, asset: str, partitions: Collection[str]) -> dict[str, VersionRecord]:
        """The current committed versions of some partitions of one asset."""
        ...

    def dynamic_keys(self, names: Collection[str]) -> dict[str, tuple[str, ...]]:
        """The keys of some dynamic partitions definitions, in the order they were added."""
        ...

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The newest runs with per-status step counts."""
        ...

    def run(self, run_id: str) -> RunRecord | None:
        """One run with its steps and attempts (``run_id``: a unique prefix, or ``last``)."""
        ...

    def logs(
        self, run_id: str, asset: str | None = None, partition: str | None = None
    ) -> list[LogLine]:
        """The log lines of a run, optionally of one asset and partition."""
        ...

    @property
    def reports(self) -> Reports:
        """Bulk reads for queries, lineage and metrics."""
        ...


class StateWriter(Protocol):
    """What runs write: leases on partitions, runs, attempts and their commits."""

    @property
    def lease_seconds(self) -> float:
        """How long a lease lives without a heartbeat."""
        ...

    def acquire(self, asset: str, partition: str, owner: str) -> int | None:
        """Take a partition's lease: its new fencing token, ``None`` while held."""
        ...

    def acquire_many(self, pairs: Sequence[tuple[str, str]], owner: str) -> list[int | None]:
        """Take several partitions' leases at once."""
        ...

    def heartbeat(self, owner: str) -> None:
        """Extend every lease ``owner`` holds."""
        ...

    def release(
        self, asset: str, partition: str, owner: str, token: int, failure: str | None = None
    ) -> None:
        """Give a lease back without committing."""
        ...

    def release_many(self, owner: str, leases: Sequence[tuple[str, str, int]]) -> None:
        """Give back the leases ``(asset, partition, token)`` of ``owner``."""
        ...

    def release_all(self, owner: str) -> None:
        """Give back every lease ``owner`` still holds."""
        ...

    def create_run(
        self,
        run_id: str,
        command: str,
        targets: Sequence[str],
        steps: Sequence[tuple[str, str, str]],
        args: Mapping[str, Any] | None = None,
    ) -> dict[tuple[str, str], int]:
        """Record a new run and its steps; returns each step's id."""
        ...

    def finish_run(self, run_id: str, status: RunStatus) -> None:
        """Close a run with its final status."""
        ...

    def update_step(self, step_id: int, **values: Any) -> None:
        """Set a step's status, detail, timings or result."""
        ...

    def start_attempts(self, run_id: str, starts: Sequence[tuple[int, int]]) -> list[int]:
        """Record that attempts start; returns their ids."""
        ...

    def finish_attempts(
        self, owner: str, ends: Sequence[AttemptEnd], *, hold: bool = False
    ) -> list[str | LeaseLostError | None]:
        """Record how attempts ended, committing their versions behind the fence (with
        ``hold``, a committed version's lease stays with its writer)."""
        ...

    def skip_steps(
        self, owner: str, skipped: Sequence[tuple[int, str, str, int]], detail: str
    ) -> None:
        """Record steps as skipped and give their leases back."""
        ...

    def add_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        """Add keys to a dynamic partitions definition; returns those that were new."""
        ...

    def remove_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        """Remove keys from a dynamic partitions definition; returns those that were there."""
        ...


class NamedLeases(Protocol):
    """Leases by name, with fencing tokens: the active daemon, the slots of pools."""

    seconds: float
    """How long a lease lives unless renewed."""

    def acquire(self, name: str, owner: str) -> int | None:
        """Take a lease: its new fencing token, or ``None`` while held."""
        ...

    def acquire_any(self, names: Sequence[str], owner: str) -> tuple[str, int] | None:
        """Take the first free lease among ``names``."""
        ...

    def renew(self, name: str, owner: str, token: int) -> bool:
        """Extend a lease still held with ``token``; ``False`` if it was lost."""
        ...

    def release(self, name: str, owner: str, token: int) -> None:
        """Give a lease back (nothing happens if it was lost meanwhile)."""
        ...

    def holder(self, name: str) -> tuple[str, float] | None:
        """Who holds a lease and until when, if anyone does."""
        ...


class PartitionStore(Protocol):
    """Where partition versions' files live: write a version, read one, delete files."""

    @property
    def url(self) -> str:
        """The store's root, credentials redacted."""
        ...

    def write(
        self,
        asset: str,
        segments: str,
        version_id: str,
        value: object,
        *,
        ext: str | None = None,
        schema: Any = None,
        durable: bool = True,
    ) -> WrittenVersion:
        """Write a value as a new, uncommitted version of a partition."""
        ...

    def read(self, files: Sequence[str], kind: str) -> object:
        """Read a version's value from its files."""
        ...

    def delete(self, files: Iterable[str]) -> None:
        """Delete files; those already gone are fine."""
        ...


__all__ = ["NamedLeases", "PartitionStore", "Reports", "StateReader", "StateWriter"]
