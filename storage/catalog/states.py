"""Partition states in the catalog: what each partition's current version is, the
versions themselves, and the keys of dynamic partitions definitions.

Status reads are bulk: one query returns the state of every partition of the assets
asked for, whatever their number.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, tuple_
from sqlalchemy.exc import IntegrityError

from partita.errors import CatalogError
from partita.storage.catalog.engine import Database
from partita.storage.catalog.tables import (
    DynamicPartitionRow,
    PartitionRow,
    VersionRow,
    version_record,
)
from partita.storage.records import PartitionStates, VersionRecord

P = PartitionRow.__table__.c
V = VersionRow.__table__.c
D = DynamicPartitionRow.__table__.c

# Statements are built once: building one and its cache key costs more than SQLite
# takes to run it. The parameters of WHERE clauses are named w_*.
_STATES = select(
    P.asset, P.partition, P.version_id, P.code_version, P.data_version, P.input_hash, P.failure
)
# Ordered by asset (the primary key's index on SQLite, so no sort), to be split in groups.
_STATES_OF_ASSETS = _STATES.where(P.asset.in_(bindparam("w_assets", expanding=True))).order_by(
    P.asset
)
_STATES_OF_PARTITIONS = _STATES.where(
    tuple_(P.asset, P.partition).in_(bindparam("w_pairs", expanding=True))
).order_by(P.asset)
_CURRENT_VERSIONS = (
    select(VersionRow.__table__)
    .join(PartitionRow.__table__, P.version_id == V.id)
    .where(P.asset == bindparam("w_asset"), P.partition.in_(bindparam("w_keys", expanding=True)))
)
_DYNAMIC_KEYS = (
    select(D.name, D.key)
    .where(D.name.in_(bindparam("w_names", expanding=True)))
    .order_by(D.name, D.seq)
)
_DYNAMIC_SEQS = select(D.key, D.seq).where(D.name == bindparam("w_name"))
_INSERT_DYNAMIC = insert(DynamicPartitionRow.__table__)
_DELETE_DYNAMIC = delete(DynamicPartitionRow.__table__).where(
    D.name == bindparam("w_name"), D.key == bindparam("w_key")
)
# Where writers are not serialized (PostgreSQL), two that add to one name at once can
# collide on a key or a seq; the loser reads again and retries, this many times.
_DYNAMIC_RETRIES = 3


class States:
    """Reads of partition states and of their current versions.

    Args:
        db: the catalog's database.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def states(self, assets: Collection[str]) -> dict[str, PartitionStates]:
        """The state of every recorded partition of ``assets``, in one query."""
        return self._states(assets, _STATES_OF_ASSETS, {"w_assets": list(assets)})

    def states_of(self, wanted: Mapping[str, Collection[str]]) -> dict[str, PartitionStates]:
        """The state of some partitions of some assets, in one query."""
        pairs = [(asset, key) for asset, keys in wanted.items() for key in keys]
        if not pairs:
            return {key: PartitionStates() for key in wanted}
        return self._states(wanted, _STATES_OF_PARTITIONS, {"w_pairs": pairs})

    def _states(
        self, assets: Collection[str], query: Any, parameters: dict[str, Any]
    ) -> dict[str, PartitionStates]:
        result = {key: PartitionStates() for key in assets}
        partition_of = itemgetter(1)
        with self._db.read("reading partition states") as conn:
            cursor = conn.execute(query, parameters)
            # Plain strings need no result processing: take the driver's rows as they are
            # (SQLAlchemy's Row objects cost more than the query over many rows), and keep
            # them so (PartitionStates makes a record when one is looked up). The cyclic
            # garbage collector stays on: it untracks the tuples of strings as they come,
            # which costs less than one pass over all of them afterwards.
            rows = cursor.cursor.fetchall()
            cursor.close()
        for asset, group in groupby(rows, itemgetter(0)):
            found = list(group)
            result[asset].rows.update(zip(map(partition_of, found), found, strict=True))
        return result

    def versions(self, asset: str, partitions: Collection[str]) -> dict[str, VersionRecord]:
        """The current committed versions of some partitions of one asset."""
        parameters = {"w_asset": asset, "w_keys": list(partitions)}
        with self._db.read("reading versions") as conn:
            rows = conn.execute(_CURRENT_VERSIONS, parameters).mappings().all()
        return {row["partition"]: version_record(row) for row in rows}


class DynamicKeys:
    """The keys of dynamic partitions definitions, in the order they were added.

    Args:
        db: the catalog's database.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def keys(self, names: Collection[str]) -> dict[str, tuple[str, ...]]:
        """The keys of some definitions, read in one query; a name without keys maps
        to ``()``."""
        found: dict[str, list[str]] = {name: [] for name in names}
        if not found:
            return {}
        with self._db.read("reading dynamic partitions") as conn:
            rows = conn.execute(_DYNAMIC_KEYS, {"w_names": list(found)}).all()
        for name, key in rows:
            found[name].append(key)
        return {name: tuple(keys) for name, keys in found.items()}

    def add(self, name: str, keys: Sequence[str]) -> list[str]:
        """Add keys after the ones the definition has (those it has stay where they
        are); returns the keys that were not there yet, in the order given."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        for _ in range(_DYNAMIC_RETRIES):
            try:
                return self._add(name, wanted)
            except CatalogError as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
        return self._add(name, wanted)

    def _add(self, name: str, wanted: list[str]) -> list[str]:
        with self._db.write("adding dynamic partitions") as conn:
            seqs = self._seqs(conn, name)
            added = [key for key in wanted if key not in seqs]
            if added:
                now = self._db.now(conn)
                start = max(seqs.values(), default=0) + 1
                conn.execute(
                    _INSERT_DYNAMIC,
                    [
                        {"name": name, "key": key, "seq": seq, "added_at": now}
                        for seq, key in enumerate(added, start)
                    ],
                )
        return added

    def remove(self, name: str, keys: Sequence[str]) -> list[str]:
        """Remove keys; returns those that were there, in the order given."""
        if not keys:
            return []
        with self._db.write("removing dynamic partitions") as conn:
            seqs = self._seqs(conn, name)
            removed = [key for key in dict.fromkeys(keys) if key in seqs]
            if removed:
                conn.execute(_DELETE_DYNAMIC, [{"w_name": name, "w_key": key} for key in removed])
        return removed

    def _seqs(self, conn: Connection, name: str) -> dict[str, int]:
        return {key: seq for key, seq in conn.execute(_DYNAMIC_SEQS, {"w_name": name})}


__all__ = ["DynamicKeys", "States"]
