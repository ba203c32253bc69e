"""The sales example on S3 (a moto server) and PostgreSQL, driven by the commands of its page.

docs/s3-and-postgres.md shows the setup as ``export`` lines and the work as ``partita`` lines
in ```bash blocks. The test runs exactly those commands, in order, with the test's endpoint,
bucket, credentials and database in place of the page's example values.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fsspec
from sqlalchemy.engine import make_url

from tests.conftest import REPO, code_blocks, postgres_execute, postgres_text

PAGE = REPO / "docs" / "s3-and-postgres.md"
PASSWORD = "pw-4c1e9f-must-not-leak"
SECRET_KEY = "sk-7d20ab-must-not-leak"
DAYS = [f"2026-04-{d:02d}" for d in range(1, 11)]
ASSETS = ("raw_sales", "clean_sales", "sales_report")

Run = Callable[..., subprocess.CompletedProcess[str]]


def page_setup_and_commands() -> tuple[dict[str, str], list[str]]:
    """The page's ``export NAME=VALUE`` lines and its ``partita ...`` lines, in order."""
    exports: dict[str, str] = {}
    commands: list[str] = []
    for block in code_blocks(PAGE.read_text(encoding="utf-8"), "bash"):
        for line in block.splitlines():
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                exports[name] = value
            elif line.startswith("partita "):
                commands.append(line)
    return exports, commands


def substitutes(bucket: str, endpoint: str, database: str) -> dict[str, str]:
    """What the test gives each variable the page exports."""
    catalog = make_url(database).set(password=PASSWORD).render_as_string(hide_password=False)
    return {
        "AWS_ACCESS_KEY_ID": "AKIATESTKEY",
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_S3": endpoint,
        "PARTITA_STORAGE": f"s3://{bucket}/partita",
        "PARTITA_CATALOG": catalog,
    }


def url_kind(value: str) -> str:
    """A URL's scheme, http and https alike; ``""`` for a value that is no URL."""
    scheme = urlsplit(value).scheme
    return "http" if scheme == "https" else scheme


def assert_no_secret(text: str, where: str) -> None:
    for secret in (PASSWORD, SECRET_KEY):
        assert secret not in text, f"{secret!r} leaked in {where}:\n{text}"


def count(database: str, table: str) -> int:
    return postgres_execute(database, f'select count(*) from "{table}"')[0][0]


def bucket_objects(bucket: str, options: dict[str, Any], prefix: str) -> list[str]:
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
    return sorted(
        path.removeprefix(f"{bucket}/{prefix}/") for path in fs.find(f"{bucket}/{prefix}")
    )


def test_page_values_are_placeholders_of_the_right_kind() -> None:
    exports, commands = page_setup_and_commands()
    tested = substitutes("bucket", "http://127.0.0.1:1", "postgresql+psycopg://u@h/db")
    assert set(exports) == set(tested)
    for name, value in exports.items():
        assert url_kind(value) == url_kind(tested[name]), name
    assert commands[0] == commands[-1]  # the rerun
    assert commands[0] == "partita backfill sales_report --from 2026-04-01 --to 2026-04-10"


def test_page_commands_on_s3_and_postgres(
    make_example: Callable[[str], Path],
    run_cli: Run,
    s3_bucket: tuple[str, dict[str, Any]],
    make_postgres_database: Callable[[], str],
) -> None:
    bucket, options = s3_bucket
    postgres_database = make_postgres_database()  # its own: other tests build these days too
    project = make_example("sales")
    exports, commands = page_setup_and_commands()
    env = substitutes(bucket, options["endpoint_url"], postgres_database)
    assert set(exports) == set(env)
    assert PASSWORD in env["PARTITA_CATALOG"]  # trust authentication ignores it

    results = []
    objects: list[str] = []
    rows: dict[str, int] = {}
    for i, line in enumerate(commands):
        program, *args = shlex.split(line)
        assert program == "partita", line
        result = run_cli(project, *args, env=env)
        assert result.returncode == 0, f"$ {line}\n{result.stdout}\n{result.stderr}"
        results.append((line, result))
        if i == 0:  # what the first backfill left, for the rerun to leave unchanged
            objects = bucket_objects(bucket, options, "partita")
            rows = {table: count(postgres_database, table) for table in ("versions", "partitions")}

    backfill, status, read, runs, rerun = (result for _, result in results)
    assert f"{len(ASSETS) * len(DAYS)} built" in backfill.stdout
    assert "nothing to do" in rerun.stdout
    assert "sales_report" in status.stdout and "2026-04-01..2026-04-10" in status.stdout
    assert "# Sales report 2026-04-10" in read.stdout
    assert "backfill" in runs.stdout and "succeeded" in runs.stdout

    # The data: one object per partition, in the hive layout under the prefix.
    for asset in ASSETS:
        folders = [path.split("/")[1] for path in objects if path.startswith(f"{asset}/")]
        assert folders == [f"date={day}" for day in DAYS], asset
    assert all(path.rsplit("/", 1)[1].startswith("part-") for path in objects)
    # The catalog: in PostgreSQL, a committed version per partition built.
    assert rows["versions"] == len(ASSETS) * len(DAYS)
    committed = postgres_execute(
        postgres_database,
        "select asset, count(*) from partitions where version_id is not null group by asset",
    )
    assert dict(committed) == dict.fromkeys(ASSETS, len(DAYS))
    # The rerun wrote nothing, in the bucket or the catalog.
    assert bucket_objects(bucket, options, "partita") == objects
    assert {t: count(postgres_database, t) for t in rows} == rows

    for line, result in results:
        assert_no_secret(result.stdout + result.stderr, f"the output of $ {line}")
    for table, column, value in postgres_text(postgres_database):
        assert_no_secret(value, f"{table}.{column}")


def test_failures_and_errors_keep_secrets(
    make_example: Callable[[str], Path],
    run_cli: Run,
    s3_bucket: tuple[str, dict[str, Any]],
    make_postgres_database: Callable[[], str],
) -> None:
    """Failed steps record their errors in the catalog; a catalog that cannot be reached is
    named in the error message: neither shows the password or the secret key."""
    bucket, options = s3_bucket
    postgres_database = make_postgres_database()
    project = make_example("sales")
    env = substitutes(bucket, options["endpoint_url"], postgres_database)
    env["PARTITA_STORAGE"] = f"s3://{bucket}/failing"
    failing = run_cli(
        project,
        *("backfill", "sales_report", "--from", "2026-04-11", "--to", "2026-04-11"),
        env={**env, "SALES_API_FAIL_DAYS": "2026-04-11", "SALES_API_FAIL_TRANSIENT": "1"},
    )
    assert failing.returncode != 0, failing.stdout
    assert_no_secret(failing.stdout + failing.stderr, "the failed backfill's output")
    errors = postgres_execute(postgres_database, "select error from attempts where error <> ''")
    assert errors, "the failed attempts recorded no error"

    unreachable = make_url(env["PARTITA_CATALOG"]).set(port=1).render_as_string(hide_password=False)
    refused = run_cli(project, "status", env={**env, "PARTITA_CATALOG": unreachable})
    assert refused.returncode != 0
    assert "127.0.0.1" in refused.stdout + refused.stderr
    assert_no_secret(refused.stdout + refused.stderr, "the unreachable catalog's error")

    for table, column, value in postgres_text(postgres_database):
        assert_no_secret(value, f"{table}.{column}")


def test_endpoint_in_partita_toml(
    make_example: Callable[[str], Path], run_cli: Run, s3_bucket: tuple[str, dict[str, Any]]
) -> None:
    """The page's partita.toml (endpoint in ``storage_options``) works without
    ``AWS_ENDPOINT_URL_S3``; the catalog stays the default SQLite file."""
    bucket, options = s3_bucket
    project = make_example("sales")
    (toml,) = code_blocks(PAGE.read_text(encoding="utf-8"), "toml")
    page_storage, page_endpoint = "s3://acme-data/partita", "https://s3.eu-central-1.amazonaws.com"
    assert page_storage in toml and page_endpoint in toml
    settings = toml.replace(page_storage, f"s3://{bucket}/from-toml")
    (project / "partita.toml").write_text(settings.replace(page_endpoint, options["endpoint_url"]))
    env = {"AWS_ACCESS_KEY_ID": "AKIATESTKEY", "AWS_SECRET_ACCESS_KEY": SECRET_KEY}

    built = run_cli(
        project, "backfill", "sales_report", "--from", "2026-04-01", "--to", "2026-04-02", env=env
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert_no_secret(built.stdout + built.stderr, "the backfill's output")
    objects = bucket_objects(bucket, options, "from-toml")
    assert "sales_report/date=2026-04-02" in {path.rsplit("/", 1)[0] for path in objects}
