"""The commands that look and change nothing: ``status``, ``why``, ``runs``, ``logs``,
``read``, ``lineage``, ``query`` and ``partitions list``."""

from __future__ import annotations

from typing import Annotated

import typer

from partita.cli.invocation import EXIT_USAGE, Invocation, finish
from partita.cli.params import (
    KEY_FORMS,
    Asset,
    FromOpt,
    Json,
    PartitionOpt,
    RunId,
    SomeAssets,
    ToOpt,
)


def status(
    ctx: typer.Context,
    assets: SomeAssets = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    stale: Annotated[bool, typer.Option("--stale", help="List stale partitions and why.")] = False,
    missing: Annotated[bool, typer.Option("--missing", help="List missing partitions.")] = False,
    json_: Json = False,
) -> None:
    """Per asset: how many partitions are fresh, stale and missing, as key ranges."""
    from partita.cli.render import render_status

    cli = Invocation.of(ctx)
    reports = cli.project.status(assets or None, start=from_, end=to)
    render_status(cli.out, reports, stale=stale, missing=missing, as_json=json_)


def why(
    ctx: typer.Context,
    asset: Asset,
    partition: Annotated[
        str | None, typer.Argument(help=f"A partition key: {KEY_FORMS}.", show_default=False)
    ] = None,
) -> None:
    """Explain why a partition is stale or missing, down to the root cause."""
    from partita.cli.render import render_why

    cli = Invocation.of(ctx)
    render_why(cli.out, cli.project.why(asset, partition))


def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs.", min=1)] = 20,
    json_: Json = False,
) -> None:
    """The newest runs, with status, duration and step counts."""
    if ctx.invoked_subcommand is not None:
        return
    from partita.cli.render import render_runs

    cli = Invocation.of(ctx)
    render_runs(cli.out, cli.project.runs(limit), as_json=json_)


def runs_show(ctx: typer.Context, run_id: RunId, json_: Json = False) -> None:
    """One run: its steps with status, reason, attempts and duration."""
    from partita.cli.render import render_run

    cli = Invocation.of(ctx)
    render_run(cli.out, cli.project.run(run_id), as_json=json_)


def logs(
    ctx: typer.Context,
    run_id: RunId,
    asset: Annotated[str | None, typer.Option("--asset", help="Only this asset.")] = None,
    partition: Annotated[
        str | None, typer.Option("--partition", help="Only this partition, as runs show lists it.")
    ] = None,
) -> None:
    """The log lines of a run's attempts."""
    from partita.cli.render import render_logs

    cli = Invocation.of(ctx)
    render_logs(cli.out, cli.project.logs(run_id, asset, partition))


def read(
    ctx: typer.Context,
    asset: Asset,
    partition: PartitionOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show.", min=1)] = 20,
) -> None:
    """Print the committed data of a partition."""
    from partita.cli.render import render_value

    cli = Invocation.of(ctx)
    render_value(cli.out, cli.project.read(asset, partition), limit)


def query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="A SQL query; each table asset is a view.")],
    format_: Annotated[
        str,
        typer.Option("--format", "-f", help="table, csv or json (one object per row, in a list)."),
    ] = "table",
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="Rows to show as a table.", min=1)
    ] = 100,
) -> None:
    """Run SQL (DuckDB) over the current committed data: each asset is a view."""
    from partita.cli.render import QUERY_FORMATS, render_query

    cli = Invocation.of(ctx)
    if format_ not in QUERY_FORMATS:
        cli.err.print(
            f"error: --format {format_} is not one of {', '.join(QUERY_FORMATS)}", markup=False
        )
        finish(EXIT_USAGE)
    render_query(cli.out, cli.project.query(sql), format_, limit)


def lineage(
    ctx: typer.Context,
    asset: Asset,
    partition: Annotated[
        str | None, typer.Argument(help="Partition key (none for an unpartitioned asset).")
    ] = None,
    depth: Annotated[
        int | None, typer.Option("--depth", help="Levels of inputs to show (default: all).", min=0)
    ] = None,
    json_: Json = False,
) -> None:
    """The exact upstream versions a partition's current version was built from."""
    from partita.cli.render import render_lineage

    cli = Invocation.of(ctx)
    render_lineage(cli.out, cli.project.lineage(asset, partition, depth), as_json=json_)


def partitions_list(
    ctx: typer.Context,
    asset: Asset,
    from_: FromOpt = None,
    to: ToOpt = None,
    json_: Json = False,
) -> None:
    """The partition keys ASSET has now, oldest first, one a line (`partita partitions ASSET`).

    A header with the partitions definition and the count goes to stderr, so stdout
    holds only keys.
    """
    from partita.cli.render import render_partitions

    cli = Invocation.of(ctx)
    keys = cli.project.partitions(asset, start=from_, end=to)
    definition = cli.project.graph.get(asset).partitions
    described = definition.describe() if definition else "unpartitioned"
    render_partitions(cli.out, cli.err, asset, described, keys, as_json=json_)
