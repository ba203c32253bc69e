"""Credentials in a project's configuration never show: not in any command's output (its
successes, its failures, its errors), not in the catalog, not in object names, not in the
Python API's reprs and messages.

The project keeps every secret where users put them: the catalog's password in its URL,
the S3 key and secret in ``storage_options``. Every command is run, its output kept, and
all of it is searched for each secret at the end.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
from sqlalchemy.engine import make_url

from tests.conftest import postgres_text

PASSWORD = "pw-93be01-config-secret"
ACCESS_KEY = "AKIA93BE01CONFIGKEY"
SECRET_KEY = "sk-93be01-config-secret"
SECRETS = (PASSWORD, ACCESS_KEY, SECRET_KEY)

Run = Callable[..., subprocess.CompletedProcess[str]]


def settings(storage: str, endpoint: str, catalog: str, *, extra: str = "") -> str:
    return f"""definitions = "assets.py"
storage = "{storage}"
catalog = "{catalog}"
{extra}
[storage_options]
endpoint_url = "{endpoint}"
key = "{ACCESS_KEY}"
secret = "{SECRET_KEY}"
client_kwargs = {{ region_name = "eu-west-1" }}
config_kwargs = {{ connect_timeout = 1, retries = {{ max_attempts = 1 }} }}
"""


class Transcript:
    """Everything the runs printed, to be searched at the end."""

    def __init__(self, run_cli: Run, project: Path) -> None:
        self._run = run_cli
        self.project = project
        self.parts: list[tuple[str, str]] = []

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = self._run(self.project, *args, env=env)
        self.parts.append((f"$ partita {' '.join(args)}", result.stdout + result.stderr))
        return result

    def add(self, where: str, text: str) -> None:
        self.parts.append((where, text))

    def assert_no_secret(self) -> None:
        for where, text in self.parts:
            for secret in SECRETS:
                assert secret not in text, f"{secret!r} leaked in {where}:\n{text}"


def test_no_command_shows_a_configured_secret(
    make_example: Callable[[str], Path],
    run_cli: Run,
    s3_bucket: tuple[str, dict[str, Any]],
    make_postgres_database: Callable[[], str],
) -> None:
    bucket, options = s3_bucket
    postgres_database = make_postgres_database()
    endpoint = options["endpoint_url"]
    prefix = f"secrets-{uuid.uuid4().hex[:8]}"
    catalog = make_url(postgres_database).set(password=PASSWORD).render_as_string(False)
    project = make_example("sales")
    (project / "partita.toml").write_text(settings(f"s3://{bucket}/{prefix}", endpoint, catalog))
    out = Transcript(run_cli, project)
    days = ("--from", "2026-04-01", "--to", "2026-04-03")

    # What works.
    assert out.run("backfill", "sales_report", *days, "--workers", "2").returncode == 0
    for args in (
        ("backfill", "sales_report", *days, "--json"),
        ("status",),
        ("status", "--json"),
        ("why", "sales_report", "2026-04-03"),
        ("runs",),
        ("runs", "--json"),
        ("runs", "show", "last"),
        ("runs", "show", "last", "--json"),
        ("logs", "last"),
        ("read", "sales_report", "--partition", "2026-04-03"),
        ("partitions", "sales_report", "--from", "2026-04-01", "--to", "2026-04-03"),
        ("materialize", "sales_report", "--partition", "2026-04-04", "--dry-run"),
    ):
        result = out.run(*args)
        assert result.returncode == 0, out.parts[-1]

    # A step that fails after its retries, and its logs.
    failed = out.run(
        "materialize",
        "raw_sales",
        "--partition",
        "2026-04-05",
        env={"SALES_API_FAIL_DAYS": "2026-04-05"},
    )
    assert failed.returncode == 1, out.parts[-1]
    out.run("logs", "last")
    out.run("runs", "show", "last")

    # Storage that cannot be reached: the steps fail, naming the endpoint.
    (project / "partita.toml").write_text(
        settings(f"s3://{bucket}/{prefix}", "http://127.0.0.1:1", catalog)
    )
    unreachable = out.run("materialize", "raw_sales", "--partition", "2026-04-06")
    assert unreachable.returncode == 1, out.parts[-1]
    assert "127.0.0.1:1" in out.run("logs", "last").stdout
    (project / "partita.toml").write_text(settings(f"s3://{bucket}/{prefix}", endpoint, catalog))

    # A catalog that cannot be reached, a malformed catalog URL, a bad setting beside the
    # secrets, credentials written into the storage URL itself.
    refused = make_url(catalog).set(port=1).render_as_string(False)
    assert out.run("status", env={"PARTITA_CATALOG": refused}).returncode != 0
    malformed = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:notaport/db"
    assert out.run("status", env={"PARTITA_CATALOG": malformed}).returncode == 2
    inline = f"s3://{ACCESS_KEY}:{SECRET_KEY}@{bucket}/{prefix}"
    read = out.run(
        "read", "sales_report", "--partition", "2026-04-03", env={"PARTITA_STORAGE": inline}
    )
    assert read.returncode == 2 and "has credentials in it" in read.stderr, out.parts[-1]
    (project / "partita.toml").write_text(
        settings(f"s3://{bucket}/{prefix}", endpoint, catalog, extra="lease_seconds = -1")
    )
    assert out.run("status").returncode == 2, out.parts[-1]
    (project / "partita.toml").write_text(settings(f"s3://{bucket}/{prefix}", endpoint, catalog))

    # The Python API: what a user prints or logs while debugging.
    import partita

    with partita.Project(project) as api:
        out.add("Project.settings", f"{api.settings!r} {api.settings}")
        out.add("Project.catalog.url", api.catalog.url)
        out.add("Project.store.url", api.store.url)
        out.add("Project.runs()", repr(api.runs()))

    out.assert_no_secret()
    for table, column, value in postgres_text(postgres_database):
        for secret in SECRETS:
            assert secret not in value, f"{secret!r} leaked in the catalog's {table}.{column}"
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
    names = fs.find(f"{bucket}/{prefix}")
    assert names, "the backfill wrote nothing to S3"
    for name in names:
        assert not any(secret in name for secret in SECRETS), name
