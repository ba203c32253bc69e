"""``partita doctor``: committed files must exist, have the recorded size and content hash.

A deleted, a truncated and a bit-flipped file are each found, on local disk and S3 (moto),
with SQLite and PostgreSQL catalogs; ``--fix`` marks exactly those partitions for rebuild,
and a backfill then rebuilds exactly those.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from partita.core.maintenance.doctor import HASH, MISSING, SIZE
from partita.storage.store.versions import new_version_id
from tests.core._sites import DAYS, Site, site_factory

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def make_site(
    make_example: Callable[[str], Path], request: pytest.FixtureRequest
) -> Iterator[Callable[[str, str], Site]]:
    """``make_site(store, catalog)``: the sales example on local disk or S3."""
    yield from site_factory(make_example, request)


def flip_a_bit(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


@pytest.mark.parametrize(
    ("store", "catalog"), [("local", "sqlite"), ("s3", "sqlite"), ("s3", "postgresql")]
)
def test_doctor_finds_damage_and_fix_gets_exactly_it_rebuilt(
    make_site: Callable[[str, str], Site], store: str, catalog: str
) -> None:
    site = make_site(store, catalog)
    site.build()
    healthy = site.project.doctor()
    assert healthy.healthy
    assert healthy.findings == ()
    assert healthy.versions == 4

    first, second = DAYS
    clean, raw = site.current("clean_sales"), site.current("raw_sales")
    site.remove(clean[first].files[0])
    site.put(clean[second].files[0], site.read(clean[second].files[0])[:-10])
    flipped = flip_a_bit(site.read(raw[first].files[0]))
    assert len(flipped) == raw[first].bytes
    site.put(raw[first].files[0], flipped)
    damaged = {
        ("clean_sales", first): MISSING,
        ("clean_sales", second): SIZE,
        ("raw_sales", first): HASH,
    }

    found = site.project.doctor()
    assert not found.healthy
    assert {(f.asset, f.partition): f.problem for f in found.findings} == damaged
    assert not any(f.fixed for f in found.findings)
    assert site.current("clean_sales").keys() == {first, second}  # nothing marked yet

    fixed = site.project.doctor(fix=True)
    assert fixed.healthy
    assert all(f.fixed for f in fixed.findings)
    assert {(f.asset, f.partition) for f in fixed.findings} == set(damaged)
    assert site.version_status("clean_sales", first, clean[first].version_id) == "lost"
    assert site.current("raw_sales").keys() == {second}
    status = {r.asset: r for r in site.project.status(["raw_sales", "clean_sales"])}
    failures = dict(status["clean_sales"].failed)
    assert failures[first].startswith(f"doctor: {clean[first].files[0].rsplit('/', 1)[1]}")
    assert "is missing" in failures[first]

    result = site.project.backfill("clean_sales", first, second)
    built = {(o.asset, o.partition) for o in result.outcomes if o.status == "succeeded"}
    assert built == set(damaged)
    assert site.project.doctor().healthy


def test_a_rebuild_with_the_same_content_leaves_downstream_fresh(
    make_site: Callable[[str, str], Site],
) -> None:
    site = make_site("local", "sqlite")
    site.build()
    day = DAYS[0]
    raw = site.current("raw_sales")[day]
    site.put(raw.files[0], flip_a_bit(site.read(raw.files[0])))
    assert site.project.doctor(fix=True).healthy

    result = site.project.materialize("clean_sales", day)

    assert [(o.asset, o.status, o.detail) for o in result.outcomes] == [
        ("raw_sales", "succeeded", None),
        ("clean_sales", "skipped", "fresh"),
    ]
    assert site.current("raw_sales")[day].data_version == raw.data_version


def test_doctor_reports_leases_of_runs_that_stopped_and_what_gc_would_remove(
    make_site: Callable[[str, str], Site],
) -> None:
    site = make_site("local", "sqlite")
    site.build()
    catalog = site.project.catalog
    run_id = new_version_id()
    catalog.create_run(run_id, "materialize", [], [])
    assert catalog.acquire("raw_sales", DAYS[0], run_id) is not None
    catalog.finish_run(run_id, "interrupted")  # it never gave its lease back
    leftover = (
        Path(site.root) / "raw_sales" / f"date={DAYS[1]}" / "part-01AAAAAAAAAAAAAAAAAA.parquet"
    )
    leftover.write_bytes(b"abandoned")

    report = site.project.doctor()

    assert report.healthy  # neither touches committed data
    assert [(lease.asset, lease.partition, lease.owner) for lease in report.orphaned_leases] == [
        ("raw_sales", DAYS[0], run_id)
    ]
    # Never committed, in a folder no live writer holds: gc would remove it at once.
    assert report.garbage.count("removed") == 1
    assert report.garbage.dry_run
    assert leftover.exists()


def test_doctor_command(sales: Path, run_cli: Run) -> None:
    day = DAYS[0]
    assert run_cli(sales, "materialize", "clean_sales", "--partition", day).returncode == 0
    healthy = run_cli(sales, "doctor")
    assert healthy.returncode == 0, healthy.stderr
    assert "checked 2 committed versions (2 files): 0 problems" in healthy.stdout

    folder = sales / ".partita" / "data" / "clean_sales" / f"date={day}"
    (victim,) = folder.iterdir()
    victim.unlink()
    found = run_cli(sales, "doctor", "clean_sales")
    assert found.returncode == 1
    assert f"missing clean_sales {day}: doctor: {victim.name} is missing" in found.stdout
    assert "partita doctor --fix" in found.stdout

    as_json = json.loads(run_cli(sales, "doctor", "--json").stdout)
    assert as_json["healthy"] is False
    assert as_json["findings"][0]["problem"] == "missing"

    fixed = run_cli(sales, "doctor", "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "(marked for rebuild)" in fixed.stdout

    status = run_cli(sales, "status", "clean_sales", "--from", day, "--to", day, "--missing")
    assert f"missing clean_sales: {day}" in status.stdout
    assert f"doctor: {victim.name} is missing" in status.stdout
    assert "marked for rebuild" in status.stdout

    rebuilt = run_cli(sales, "materialize", "clean_sales", "--partition", day)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "1 built" in rebuilt.stdout
    assert run_cli(sales, "doctor").returncode == 0

    unknown = run_cli(sales, "doctor", "no_such_asset")
    assert unknown.returncode == 2
    assert "unknown asset 'no_such_asset'" in unknown.stderr
