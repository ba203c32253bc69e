"""The commands that look after a project: ``gc``, ``doctor``, and ``partitions add`` and
``partitions remove`` for dynamic partitions."""

from __future__ import annotations

from typing import Annotated

import typer

from partita.cli.invocation import EXIT_FAILED, EXIT_OK, Invocation, finish
from partita.cli.params import Dimension, Json, SomeAssets


def gc(
    ctx: typer.Context,
    grace: Annotated[
        str,
        typer.Option(
            "--grace",
            help="Keep unreferenced files younger than this: 30m, 2h, 7d, 0s.",
        ),
    ] = "1h",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every file removed or kept.")
    ] = False,
    json_: Json = False,
) -> None:
    """Remove the data files no committed version uses any more, once older than --grace."""
    from partita.assets.durations import parse_duration
    from partita.cli.render import render_gc
    from partita.core.maintenance.gc import FAILED

    cli = Invocation.of(ctx)
    result = cli.project.gc(parse_duration(grace, what="--grace"), dry_run=dry_run)
    render_gc(cli.out, result, verbose=verbose, as_json=json_)
    finish(EXIT_FAILED if result.count(FAILED) else EXIT_OK)


def doctor(
    ctx: typer.Context,
    assets: SomeAssets = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Mark missing or corrupt partitions for rebuild.")
    ] = False,
    json_: Json = False,
) -> None:
    """Check that every committed partition's files exist and match their recorded hash."""
    from partita.cli.render import render_doctor

    cli = Invocation.of(ctx)
    report = cli.project.doctor(assets or None, fix=fix)
    render_doctor(cli.out, report, as_json=json_)
    finish(EXIT_OK if report.healthy else EXIT_FAILED)


def partitions_add(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="Asset key (with dynamic partitions).")],
    keys: Annotated[list[str], typer.Argument(help="Keys to add.", show_default=False)],
    dimension: Dimension = None,
    json_: Json = False,
) -> None:
    """Add KEYs to ASSET's dynamic partitions; keys already there are left as they are."""
    from partita.cli.render import render_key_changes

    cli = Invocation.of(ctx)
    added = cli.project.add_partitions(asset, keys, dimension=dimension)
    render_key_changes(cli.out, asset, keys, added, added=True, as_json=json_)


def partitions_remove(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="Asset key (with dynamic partitions).")],
    keys: Annotated[list[str], typer.Argument(help="Keys to remove.", show_default=False)],
    dimension: Dimension = None,
    json_: Json = False,
) -> None:
    """Remove KEYs from ASSET's dynamic partitions; their data and state are kept, hidden."""
    from partita.cli.render import render_key_changes

    cli = Invocation.of(ctx)
    removed = cli.project.remove_partitions(asset, keys, dimension=dimension)
    render_key_changes(cli.out, asset, keys, removed, added=False, as_json=json_)
