"""Bad input through the CLI: one clear line on stderr, exit 2 (1 for a failed step),
and nothing changed in the catalog or the data."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import partita as pt
from tests.conftest import catalog_query, data_files

HEADER = """
import pyarrow as pa
import partita as pt
from pydantic import BaseModel

daily = pt.DailyPartitions(start="2026-04-01")
"""

GOOD = (
    HEADER
    + """
class Row(BaseModel):
    n: int

@pt.asset(partitions=daily, schema=Row)
def numbers(ctx):
    return pa.table({"n": pa.array([1, 2, 3], pa.int64())})
"""
)


def write_project(root: Path, body: str, config: str = 'definitions = "defs.py"\n') -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "partita.toml").write_text(config)
    (root / "defs.py").write_text(textwrap.dedent(body))
    return root


def assert_one_line(result, code: int, *fragments: str) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (
            HEADER
            + """
@pt.asset(partitions=daily)
def a(b): return {}
@pt.asset(partitions=daily)
def b(a): return {}
""",
            ["dependency cycle: a -> b -> a"],
        ),
        (
            HEADER + "\n@pt.asset(partitions=daily)\ndef a(missing_one): return {}\n",
            ["'a' depends on 'missing_one', which is not defined"],
        ),
        (
            HEADER
            + "\n@pt.asset(key='x')\ndef a(): return {}\n@pt.asset(key='x')\ndef b(): return {}\n",
            ["two assets share the key 'x'"],
        ),
        (HEADER + "\nraise RuntimeError('boom at import')\n", ["RuntimeError: boom at import"]),
        (
            HEADER + "\n@pt.asset(deps={'a': pt.Window(days=2)})\ndef s(a): return {}\n"
            "@pt.asset(partitions=daily)\ndef a(): return {}\n",
            ["Window(...) needs time partitions on both sides, not unpartitioned"],
        ),
    ],
)
def test_definition_errors_exit_2(tmp_path: Path, run_cli, body: str, fragments) -> None:
    project = write_project(tmp_path / "p", body)
    assert_one_line(run_cli(project, "status"), 2, "error:", *fragments)


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ('definitions = "defs.py"\nlease_seconds = -1\n', ["lease_seconds"]),
        ('definitions = "defs.py"\nstorge = "x"\n', ["unknown setting 'storge'"]),
        ('definitions = "defs.py"\ncatalog = "not a url"\n', ["not a database URL"]),
        ("definitions = \n", ["not valid TOML"]),
        ('definitions = "nope.py"\n', ["does not exist"]),
    ],
)
def test_config_errors_exit_2(tmp_path: Path, run_cli, config: str, fragments) -> None:
    project = write_project(tmp_path / "p", GOOD, config)
    assert_one_line(run_cli(project, "status"), 2, *fragments)


def test_not_a_project_and_unreachable_catalog(tmp_path: Path, run_cli) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line(
        run_cli(empty, "status"), 2, "not a partita project", "partita.toml", "pass --project DIR"
    )
    project = write_project(tmp_path / "p", GOOD)
    env = {"PARTITA_CATALOG": f"sqlite:///{tmp_path}/no/such/dir/catalog.db"}
    result = run_cli(project, "materialize", "numbers", "--partition", "2026-04-02", env=env)
    assert_one_line(result, 2, "cannot open the catalog", "does not exist")
    assert not (tmp_path / "no").exists()
    assert data_files(project, "numbers") == {}


def test_schema_mismatch_fails_the_step_and_commits_nothing(tmp_path: Path, run_cli) -> None:
    project = write_project(tmp_path / "p", GOOD)
    ok = run_cli(project, "materialize", "numbers", "--partition", "2026-04-02")
    assert ok.returncode == 0, ok.stderr
    before = data_files(project, "numbers")
    versions = catalog_query(project, "select * from versions")
    broken = GOOD.replace("pa.array([1, 2, 3], pa.int64())", 'pa.array(["x", "y", "z"])')
    (project / "defs.py").write_text(textwrap.dedent(broken))
    result = run_cli(project, "materialize", "numbers", "--partition", "2026-04-02")
    line = assert_one_line(result, 1, "numbers 2026-04-02", "SchemaError")
    assert "column 'n'" in line
    assert data_files(project, "numbers") == before
    assert catalog_query(project, "select * from versions") == versions
    status = run_cli(project, "status", "--stale")
    assert "numbers 2026-04-02: code changed" in status.stdout
    assert "last attempt failed" in status.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["materialize", "numbers", "-p", "../etc"], ["unsafe partition key '../etc'"]),
        (["materialize", "numbers", "-p", "2026-04-02T13:00"], ["is a time", "are daily"]),
        (["read", "numbers", "-p", "2026-04"], ["is a month, but these partitions are daily"]),
        (["why", "numbers", "date=2026-04-02,region=eu"], ["is not a daily partition key"]),
        (["backfill", "numbers", "--from", "2026-04-05", "--to", "2026-04-01"], ["is after"]),
        (["status", "numbers", "--to", "2026-04-31"], ["not a valid date or time"]),
        (["partitions", "numbers", "--from", "April"], ["'April' is not a date or time"]),
        (["partitions", "add", "numbers", "x"], ["numbers has no dynamic partitions"]),
    ],
)
def test_bad_partition_keys_exit_2(tmp_path: Path, run_cli, args: list[str], fragments) -> None:
    project = write_project(tmp_path / "p", GOOD)
    assert_one_line(run_cli(project, *args), 2, "error:", *fragments)
    if (project / ".partita" / "catalog.db").exists():  # status opens it before reading --to
        for table in ("runs", "versions", "partitions", "dynamic_partitions"):
            assert catalog_query(project, f"select * from {table}") == [], table
    assert data_files(project, "numbers") == {}


def test_partition_advice_is_in_the_callers_words(tmp_path: Path, run_cli) -> None:
    project = write_project(tmp_path / "p", GOOD + "\n@pt.asset()\ndef total():\n    return {}\n")
    missing = run_cli(project, "materialize", "numbers")
    assert_one_line(missing, 2, "error: numbers is partitioned: pass --partition KEY (e.g. 20")
    extra = run_cli(project, "materialize", "total", "--partition", "2026-04-02")
    assert_one_line(extra, 2, "error: total is not partitioned: drop --partition")
    with pt.Project(project) as api:
        with pytest.raises(pt.PartitionRequiredError) as required:
            api.plan(["numbers"])
        with pytest.raises(pt.NotPartitionedError) as unexpected:
            api.plan(["total"], "2026-04-02")
    assert str(required.value).startswith("numbers is partitioned: a partition key is required")
    assert f"(e.g. {required.value.example})" in missing.stderr
    assert str(unexpected.value) == "total is not partitioned: it takes no partition key"
    assert "--" not in str(required.value) + str(unexpected.value)
