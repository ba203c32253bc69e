"""The health check: does every committed version's data still match what was recorded?

For each current committed version, every file must exist, their sizes must add up to
the recorded bytes and the BLAKE2b-128 of their bytes (read in chunks) must equal the
recorded data version. A partition that fails is a finding; ``fix`` marks it for rebuild
(see :meth:`~partita.storage.catalog.maintenance.CatalogMaintenance.mark_lost`), leaving the bad
file to ``partita gc``. The report also counts what ``gc`` would remove and lists the
leases held by runs that are no longer running.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from partita.core.maintenance.gc import GarbageCollector, GcResult
from partita.errors import PlanError, StorageError
from partita.storage import Catalog, DataStore, VersionRecord
from partita.storage.catalog.maintenance import HeldLease

MISSING = "missing"
SIZE = "size mismatch"
HASH = "hash mismatch"
_READERS = 8  # files checked at once: an object store answers slowly, in parallel
_BATCH = 500  # partitions per versions query


@dataclass(frozen=True, slots=True)
class Finding:
    """A committed version whose data does not match its record.

    Attributes:
        asset: The asset key.
        partition: The partition key.
        version_id: The committed version.
        problem: ``missing``, ``size mismatch`` or ``hash mismatch``.
        path: The file at fault, relative to the store root.
        message: What is wrong, in a sentence (recorded as the partition's failure).
        fixed: ``fix`` marked the partition for rebuild.
    """

    asset: str
    partition: str
    version_id: str
    problem: str
    path: str
    message: str
    fixed: bool = False


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """What the health check found.

    Attributes:
        versions: Committed versions checked.
        files: Their files.
        findings: Versions whose data does not match the record.
        orphaned_leases: Leases held by runs that are no longer running.
        garbage: What ``partita gc`` would remove (a dry run with the default grace).
        fix: Whether findings were to be marked for rebuild.
    """

    versions: int
    files: int
    findings: tuple[Finding, ...]
    orphaned_leases: tuple[HeldLease, ...]
    garbage: GcResult
    fix: bool = False

    @property
    def healthy(self) -> bool:
        """No finding is left unmarked: every committed version matches (or was marked)."""
        return all(finding.fixed for finding in self.findings)


class Doctor:
    """Checks committed data against the catalog and, asked to, marks the bad for rebuild.

    Args:
        catalog: The record of the committed versions.
        store: Their files.
        collector: Says what ``gc`` would remove.
        defined: The assets of the definitions, which may be named before anything of
            them is recorded.
    """

    def __init__(
        self,
        catalog: Catalog,
        store: DataStore,
        collector: GarbageCollector,
        *,
        defined: Collection[str] = (),
    ) -> None:
        self._defined = frozenset(defined)
        self._catalog = catalog
        self._maintenance = catalog.maintenance
        self._store = store
        self._collector = collector

    def examine(self, assets: Sequence[str] | None = None, *, fix: bool = False) -> DoctorReport:
        """Check the current committed versions of ``assets`` (default: all recorded).

        Raises:
            PlanError: An asset the catalog has nothing of.
        """
        references = self._maintenance.references()
        known = references.assets
        unknown = [name for name in assets or () if name not in known | self._defined]
        if unknown:
            raise PlanError(
                f"unknown asset {unknown[0]!r}: neither the definitions nor the catalog "
                "have it (see `partita status`)"
            )
        names = sorted(assets or known)
        versions = self._current_versions(names)
        with ThreadPoolExecutor(_READERS) as pool:
            checked = list(pool.map(self._check, versions))
        findings = tuple(found for found in checked if found is not None)
        if fix:
            findings = tuple(self._mark(found) for found in findings)
        wanted = set(names)
        orphaned = tuple(
            lease for lease in references.leases if lease.orphaned and lease.asset in wanted
        )
        garbage = self._collector.collect(dry_run=True, assets=names if assets else None)
        files = sum(len(version.files) for version in versions)
        return DoctorReport(len(versions), files, findings, orphaned, garbage, fix)

    def _current_versions(self, assets: Collection[str]) -> list[VersionRecord]:
        found: list[VersionRecord] = []
        for asset, states in self._catalog.states(assets).items():
            keys = sorted(key for key, state in states.items() if state.version_id is not None)
            for start in range(0, len(keys), _BATCH):
                batch = self._catalog.versions(asset, keys[start : start + _BATCH])
                found.extend(batch[key] for key in sorted(batch))
        return found

    def _check(self, version: VersionRecord) -> Finding | None:
        def finding(problem: str, path: str, what: str) -> Finding:
            name = path.rpartition("/")[2]
            message = f"doctor: {name} {what}"
            return Finding(
                version.asset, version.partition, version.version_id, problem, path, message
            )

        size = 0
        for path in version.files:
            stored = self._store.stat(path)
            if stored is None:
                return finding(MISSING, path, f"is missing (recorded {version.bytes} bytes)")
            size += stored.size
        first = version.files[0] if version.files else version.version_id
        if size != version.bytes:
            what = f"is truncated or overwritten: {size} bytes, recorded {version.bytes}"
            return finding(SIZE, first, what)
        try:
            _, digest = self._store.digest(version.files)
        except StorageError as exc:
            return finding(MISSING, first, f"cannot be read ({exc})")
        if digest != version.data_version:
            what = (
                f"is corrupt: its content hash {digest[:12]}… differs from the recorded "
                f"data version {version.data_version[:12]}…"
            )
            return finding(HASH, first, what)
        return None

    def _mark(self, found: Finding) -> Finding:
        marked = self._maintenance.mark_lost(
            found.asset, found.partition, found.version_id, found.message
        )
        return Finding(
            found.asset,
            found.partition,
            found.version_id,
            found.problem,
            found.path,
            found.message,
            fixed=marked,
        )


__all__ = ["HASH", "MISSING", "SIZE", "Doctor", "DoctorReport", "Finding"]
