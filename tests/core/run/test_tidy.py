"""Tidying a partition folder: the pure rules, and what a dead writer's leftovers become.

The rules (``tidying``) say what leaves only the current version in sight; the recovery
that runs before commands applies them to the folders whose lease a dead writer left.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from partita.core.run.tidy import GRACE_S, tidying
from partita.storage.store import localdisk
from partita.storage.store.visibility import interrupted_swap, part_file

NOW = 1_800_000_000.0
DAY = "2026-04-08"
FOLDER = f"up/date={DAY}"


def files(*names: str, modified: float = NOW, inodes: dict[str, int] | None = None) -> list:
    found = []
    for name in names:
        file = part_file(f"{FOLDER}/{name}", modified, (inodes or {}).get(name))
        assert file is not None, name
        found.append(file)
    return found


def test_the_current_version_in_sight_and_nothing_else_needs_nothing() -> None:
    assert not tidying(files("part-C.parquet"), "C", set(), now=NOW)


def test_a_committed_staged_version_is_published_superseding_the_one_in_sight() -> None:
    tidy = tidying(files(".part-C.parquet.tmp", "part-U.parquet"), "C", {"U"}, now=NOW)
    assert tidy.publish == (f"{FOLDER}/part-C.parquet",)
    assert tidy.retire == (f"{FOLDER}/part-U.parquet",)
    assert tidy.remove == () and tidy.rename == ()
    assert tidy.shown == (f"{FOLDER}/part-C.parquet",)


def test_what_was_never_committed_goes_and_superseded_files_go_out_of_sight() -> None:
    found = files(
        "part-C.parquet",
        "part-U.parquet",  # superseded, still in sight: retired
        "part-X.parquet",  # never committed, in sight: removed
        ".part-Y.parquet.tmp",  # a dead writer's staged file: removed
        ".part-C.parquet.tmp",  # a stray copy of the current file: removed
    )
    tidy = tidying(found, "C", {"U"}, now=NOW)
    assert tidy.publish == () and tidy.rename == ()
    assert tidy.retire == (f"{FOLDER}/part-U.parquet",)
    assert set(tidy.remove) == {
        f"{FOLDER}/part-X.parquet",
        f"{FOLDER}/.part-Y.parquet.tmp",
        f"{FOLDER}/.part-C.parquet.tmp",
    }


def test_retired_files_go_once_older_than_the_grace() -> None:
    young = files(".part-U.parquet.old", modified=NOW - GRACE_S + 60)
    old = files(".part-V.parquet.old", modified=NOW - GRACE_S - 60)
    tidy = tidying([*files("part-C.parquet"), *young, *old], "C", set(), now=NOW)
    assert tidy.remove == (old[0].path,)


def test_a_partition_without_a_version_shows_nothing() -> None:
    tidy = tidying(files("part-X.parquet", ".part-Y.parquet.tmp"), None, set(), now=NOW)
    assert set(tidy.remove) == {f"{FOLDER}/part-X.parquet", f"{FOLDER}/.part-Y.parquet.tmp"}
    assert tidy.shown == ()


def test_a_swap_cut_between_its_last_two_renames_is_finished() -> None:
    # The old file's name holds the new bytes (its own inode); its retired link, the old ones.
    found = files(
        "part-U.parquet",
        ".part-U.parquet.old",
        inodes={"part-U.parquet": 2, ".part-U.parquet.old": 1},
    )
    assert interrupted_swap(found, "C") == found[0]
    tidy = tidying(found, "C", {"U"}, now=NOW)
    assert tidy.rename == ((f"{FOLDER}/part-U.parquet", f"{FOLDER}/part-C.parquet"),)
    assert tidy.retire == () and tidy.remove == ()
    # Cut after its first step, both names are one file: the old version, retired as usual.
    same = files(
        "part-U.parquet",
        ".part-U.parquet.old",
        ".part-C.parquet.tmp",
        inodes={"part-U.parquet": 1, ".part-U.parquet.old": 1},
    )
    assert interrupted_swap(same, "C") is None
    assert tidying(same, "C", {"U"}, now=NOW).publish == (f"{FOLDER}/part-C.parquet",)


def test_a_swap_shows_one_file_at_every_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, staged = tmp_path / "part-U.parquet", tmp_path / ".part-C.parquet.tmp"
    old.write_bytes(b"old")
    staged.write_bytes(b"new")
    seen: list[list[str]] = []
    replace = os.replace

    def watched(source: str, target: str) -> None:
        seen.append(sorted(n for n in os.listdir(tmp_path) if not n.startswith(".")))
        replace(source, target)

    monkeypatch.setattr(os, "replace", watched)
    localdisk.publish(str(tmp_path / "part-C.parquet"), str(old))
    seen.append(sorted(os.listdir(tmp_path)))
    assert all(len(shown) == 1 for shown in seen[:-1])
    assert seen[-1] == [".part-U.parquet.old", "part-C.parquet"]
    assert (tmp_path / "part-C.parquet").read_bytes() == b"new"
    assert (tmp_path / ".part-U.parquet.old").read_bytes() == b"old"


def gone_pid() -> int:
    """The pid of a process that has exited."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


ONE_ASSET = """
import pyarrow as pa
import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")


@pt.asset(partitions=daily)
def up() -> pa.Table:
    return pa.table({"x": [1, 2, 3]})
"""


def test_status_publishes_what_a_dead_writer_committed(make_project) -> None:
    project = make_project(ONE_ASSET)
    assert project.materialize("up", DAY).ok
    folder = project.root / ".partita" / "data" / "up" / f"date={DAY}"
    (old,) = os.listdir(folder)
    # As a writer killed between its commit and publishing leaves it: the new version
    # committed and staged, its lease held by a run whose process is gone.
    new = "part-01NEWVERSION0000000000000.parquet"
    (folder / f".{new}.tmp").write_bytes((folder / old).read_bytes())
    (folder / ".part-01DEADATTEMPT000000000000.parquet.tmp").write_bytes(b"half")
    version = project.catalog.versions("up", [DAY])[DAY]
    path = project.root / ".partita" / "catalog.db"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO versions SELECT '01NEWVERSION0000000000000', asset, partition, "
            "'committed', kind, replace(files, ?, ?), rows, bytes, data_version, code_version, "
            "input_hash, inputs, 'run-dead', step_id, created_at FROM versions WHERE id = ?",
            (version.version_id, "01NEWVERSION0000000000000", version.version_id),
        )
        db.execute("UPDATE versions SET status = 'superseded' WHERE id = ?", (version.version_id,))
        db.execute(
            "UPDATE partitions SET version_id = '01NEWVERSION0000000000000', "
            "lease_owner = 'run-dead', lease_token = lease_token + 1, "
            "lease_expires = 1e12"
        )
        db.execute(
            "INSERT INTO runs (id, command, targets, args, status, started_at, host, pid) "
            "SELECT 'run-dead', 'backfill', '[]', '{}', 'running', 0, host, ? FROM runs",
            (gone_pid(),),
        )

    project.status(["up"])

    assert sorted(os.listdir(folder)) == [f".{old}.old", new]
    assert project.read("up", DAY).num_rows == 3
    assert project.catalog.acquire("up", DAY, "next") is not None  # the lease is free
