"""``partita gc``: files no current version references go once older than the grace period.

What writers left in a folder nobody holds (files in sight that no current version uses,
staged files) is tidied at once: never-committed files removed, superseded versions moved
out of sight. Retired (superseded) versions and files in folders of an old partitions
definition are removed once older than the grace; current files, files of leased
partitions and files that are not partita's stay. On local disk and S3 (moto), with SQLite
and PostgreSQL catalogs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.dataset as pads
import pytest
from sqlalchemy import text

from partita.core.maintenance.gc import GarbageCollector
from partita.storage.store.versions import new_version_id
from tests.core._sites import CATALOGS, DAYS, STORES, Site, site_factory

Run = Callable[..., subprocess.CompletedProcess[str]]
HOUR = 3600.0


@pytest.fixture
def make_site(
    make_example: Callable[[str], Path], request: pytest.FixtureRequest
) -> Iterator[Callable[[str, str], Site]]:
    """``make_site(store, catalog)``: the sales example on local disk or S3."""
    yield from site_factory(make_example, request)


def collector(site: Site, hours_later: float = 0.0) -> GarbageCollector:
    """A collector whose clock runs ``hours_later`` ahead, so files look that much older."""
    project = site.project
    later = hours_later * HOUR
    return GarbageCollector(
        project.catalog, project.store, project.graph, clock=lambda: time.time() + later
    )


def hive_rows(site: Site, asset: str) -> int:
    """Rows a hive-partitioned read of an asset's folder sees, bypassing the catalog."""
    found = pads.dataset(
        f"{site.root}/{asset}", filesystem=site.fs, format="parquet", partitioning="hive"
    )
    return found.count_rows()


def fates(result: object, fate: str) -> set[str]:
    return {item.path for item in result.garbage if item.fate == fate}  # type: ignore[attr-defined]


@pytest.mark.parametrize("catalog", CATALOGS)
@pytest.mark.parametrize("store", STORES)
def test_gc_removes_unreferenced_files_once_older_than_the_grace(
    make_site: Callable[[str, str], Site], store: str, catalog: str
) -> None:
    site = make_site(store, catalog)
    site.build()
    day, other = DAYS
    superseded = site.current("clean_sales")[day]
    old_bytes = site.read(superseded.files[0])
    site.build(force=True)
    folder = f"clean_sales/date={day}"
    retired = f"{folder}/.{superseded.files[0].rpartition('/')[2]}.old"
    # The rebuild moved the superseded file out of sight (object stores delete it); a
    # crash before that would have left it in sight: put it back.
    assert superseded.files[0] not in site.files()
    assert (retired in site.files()) == (store == "local")
    site.put(superseded.files[0], old_bytes)
    abandoned = f"{folder}/part-{new_version_id()}.parquet"
    temporary = f"{folder}/.part-{new_version_id()}.parquet.tmp"
    old_folder = f"clean_sales/week=2026-04-06/part-{new_version_id()}.parquet"
    leased = f"raw_sales/date={other}/part-{new_version_id()}.parquet"
    foreign = {f"raw_sales/date={day}/README.txt", f"archive/part-{new_version_id()}.parquet"}
    for path in (abandoned, old_folder):
        site.put(path, old_bytes)
    for path in (temporary, leased, *foreign):
        site.put(path, b"not committed")
    assert site.project.catalog.acquire("raw_sales", other, "another-writer") is not None
    current = {
        path
        for asset in ("raw_sales", "clean_sales")
        for version in site.current(asset).values()
        for path in version.files
    }
    committed_rows = sum(v.rows or 0 for v in site.current("clean_sales").values())
    everything = site.files()
    # Each day's superseded version, retired by the rebuild (or by the tidy below).
    hidden = {path for path in everything if path.endswith(".old")} | {retired}
    hidden = hidden if store == "local" else set()
    assert hive_rows(site, "clean_sales") > committed_rows  # duplicates, read directly

    dry = collector(site).collect(HOUR, dry_run=True)
    assert fates(dry, "removed") == {abandoned, temporary}  # never committed: at once
    assert site.files() == everything

    # The folder is tidied under its lease: what was never committed goes at once, the
    # superseded file goes out of sight (object stores: it goes).
    tidied = collector(site).collect(HOUR)
    assert fates(tidied, "removed") == {abandoned, temporary}
    assert fates(tidied, "leased") == {leased}
    assert fates(tidied, "young") == hidden | {old_folder}
    assert site.files() == everything - {abandoned, temporary, superseded.files[0]} | hidden
    kept = "superseded" if store == "local" else "collected"  # object stores deleted it
    assert site.version_status("clean_sales", day, superseded.version_id) == kept

    done = collector(site, hours_later=2).collect(HOUR)
    assert fates(done, "removed") == hidden | {old_folder}
    assert site.files() == current | foreign | {leased}
    assert site.version_status("clean_sales", day, superseded.version_id) == "collected"
    assert hive_rows(site, "clean_sales") == committed_rows
    if store == "local":
        assert not (Path(site.root) / "clean_sales" / "week=2026-04-06").exists()
        assert done.directories == 1


def test_gc_aborts_incomplete_uploads_older_than_the_grace(
    make_site: Callable[[str, str], Site], s3_bucket: tuple[str, dict[str, Any]]
) -> None:
    site = make_site("s3", "sqlite")  # in s3_bucket
    site.build()
    bucket, _, prefix = site.root.partition("/")
    path = f"clean_sales/date={DAYS[0]}/part-{new_version_id()}.parquet"
    key = f"{prefix}/{path}"
    upload = site.fs.call_s3("create_multipart_upload", Bucket=bucket, Key=key)
    site.fs.call_s3(
        "upload_part",
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"x" * 1024,
    )
    assert [u.path for u in site.project.store.pending_uploads()] == [path]

    # moto dates every upload's start in 2010: only a grace of a century keeps it.
    kept = collector(site).collect(100 * 365 * 24 * HOUR)
    assert fates(kept, "young") == {path}
    assert len(site.project.store.pending_uploads()) == 1

    done = collector(site).collect(HOUR)
    assert fates(done, "removed") == {path}
    assert site.project.store.pending_uploads() == []
    assert path not in site.files()


def test_gc_ages_a_retired_file_by_when_it_was_retired_not_its_version_id(
    make_site: Callable[[str, str], Site],
) -> None:
    site = make_site("local", "sqlite")
    site.build()
    folder = Path(site.root) / "clean_sales" / f"date={DAYS[0]}"
    # A version written long ago (an old id) but superseded just now is young.
    recent = folder / ".part-01AAAAAAAAAAAAAAAAAAAAAAAA.parquet.old"
    stale = folder / f".part-{new_version_id()}.parquet.old"
    recent.write_bytes(b"superseded just now")
    stale.write_bytes(b"superseded long ago")
    two_hours_ago = time.time() - 2 * HOUR
    os.utime(stale, (two_hours_ago, two_hours_ago))

    result = site.project.gc("1h")

    assert recent.exists()
    assert not stale.exists()
    assert result.count("removed") == 1
    assert result.count("young") == 1


def test_gc_never_touches_a_catalog_inside_the_store(
    make_site: Callable[[str, str], Site],
) -> None:
    site = make_site("local", "sqlite")
    folder = site.project.root
    # A catalog named like a data file, in an asset's folder: still never collected.
    text = (folder / "partita.toml").read_text()
    catalog = "sqlite:///.partita/data/raw_sales/part-catalog.db"
    (folder / "partita.toml").write_text(text + f'catalog = "{catalog}"\n')
    (folder / ".partita" / "data" / "raw_sales").mkdir(parents=True)
    with type(site.project)(folder) as project:
        project.materialize("raw_sales", DAYS[0])
        result = project.gc(0.0)
        assert result.count("removed") == 0
        assert (folder / ".partita" / "data" / "raw_sales" / "part-catalog.db").exists()
        assert project.status(["raw_sales"])[0].counts["fresh"] == 1


def test_gc_never_follows_links_out_of_the_store(
    make_site: Callable[[str, str], Site], tmp_path: Path
) -> None:
    site = make_site("local", "sqlite")
    site.build()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    precious = outside / f"part-{new_version_id()}.parquet"
    precious.write_bytes(b"not the store's")
    asset_folder = Path(site.root) / "clean_sales"
    (asset_folder / "date=2026-04-09").symlink_to(outside, target_is_directory=True)
    (asset_folder / f"part-{new_version_id()}.parquet").symlink_to(precious)

    result = site.project.gc(0.0)

    assert precious.exists()
    assert result.count("removed") == 0


def test_gc_command(sales: Path, run_cli: Run) -> None:
    day = DAYS[0]
    assert run_cli(sales, "materialize", "clean_sales", "--partition", day).returncode == 0
    assert (
        run_cli(sales, "materialize", "clean_sales", "--partition", day, "--force").returncode == 0
    )
    folder = sales / ".partita" / "data" / "clean_sales" / f"date={day}"
    (retired,) = folder.glob(".part-*.old")  # the superseded version, out of sight
    leftover = folder / f"part-{new_version_id()}.parquet"
    leftover.write_bytes(b"abandoned attempt")

    dry = run_cli(sales, "gc", "--dry-run", "-v")
    assert dry.returncode == 0, dry.stderr
    assert "would remove 1 files" in dry.stdout
    assert leftover.name in dry.stdout
    assert leftover.exists()

    # Never committed, in a folder nobody holds: removed at once. The superseded version
    # stays readable for the grace period.
    kept = run_cli(sales, "gc")
    assert kept.returncode == 0, kept.stderr
    assert "removed 1 files" in kept.stdout
    assert "kept 1 younger than the grace period" in kept.stdout
    assert not leftover.exists() and retired.exists()

    done = run_cli(sales, "gc", "--grace", "0s", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["removed"] == 1
    assert payload["assets"][0]["asset"] == "clean_sales"
    assert not retired.exists()

    bad = run_cli(sales, "gc", "--grace", "soon")
    assert bad.returncode == 2
    assert "bad --grace 'soon'" in bad.stderr
    assert "30m, 2h, 7d" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_crashed_writers_lease_does_not_keep_its_leftovers(
    make_site: Callable[[str, str], Site],
) -> None:
    """A lease whose run's process is gone protects nothing: that writer commits nothing."""
    site = make_site("local", "sqlite")
    site.build()
    _, other = DAYS
    leftover = f"raw_sales/date={other}/part-{new_version_id()}.parquet"
    site.put(leftover, b"half of an attempt")
    catalog = site.project.catalog
    catalog.create_run("run-crashed", "backfill", ["raw_sales"], [])
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    with catalog.transaction("pretending the run crashed") as conn:
        conn.execute(text(f"UPDATE runs SET pid = {int(exited.stdout)} WHERE id = 'run-crashed'"))
    assert catalog.acquire("raw_sales", other, "run-crashed") is not None

    done = collector(site, hours_later=2).collect(HOUR)

    assert fates(done, "removed") == {leftover}
    assert leftover not in site.files()


def test_links_left_by_a_killed_query_go_once_old(make_site: Callable[[str, str], Site]) -> None:
    site = make_site("local", "sqlite")
    site.build()
    day, _ = DAYS
    version = site.current("clean_sales")[day]
    left = f".partita-pins/0123456789abcdef/{version.files[0]}"
    site.put(left, site.read(version.files[0]))

    young = collector(site).collect(HOUR)
    assert fates(young, "young") == {left}
    done = collector(site, hours_later=2).collect(HOUR)

    assert fates(done, "removed") == {left}
    assert not (Path(site.root) / ".partita-pins").exists()
    assert version.files[0] in site.files()  # the committed file itself stays
