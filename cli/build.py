"""The commands that build: ``materialize`` and ``backfill``.

Both plan first, then either print the plan (``--dry-run``) or apply it with a progress
bar and report the run. Exit 0 when everything asked for is fresh, 1 when a step failed.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated

import typer

from partita.cli.invocation import EXIT_FAILED, EXIT_OK, Invocation, finish
from partita.cli.params import (
    BOUND_FORMS,
    Assets,
    DaskAddress,
    DryRun,
    ExecutorOpt,
    Force,
    Json,
    PartitionOpt,
    Workers,
)

if TYPE_CHECKING:
    from partita.core.plan.planner import Plan
    from partita.core.run.options import RunOptions


def materialize(
    ctx: typer.Context,
    assets: Assets,
    partition: PartitionOpt = None,
    force: Force = False,
    dry_run: DryRun = False,
    workers: Workers = 1,
    executor: ExecutorOpt = "threads",
    dask_address: DaskAddress = None,
    json_: Json = False,
) -> None:
    """Build what is missing or stale for ASSETs at one partition, upstream first."""
    cli = Invocation.of(ctx)
    options = _run_options("materialize", workers, executor, dask_address)
    planned = cli.project.plan(assets, partition, force=force)
    if dry_run:
        _print_plan(cli, planned, json_)
        return
    _run_plan(cli, planned, options, json_)


def backfill(
    ctx: typer.Context,
    assets: Assets,
    from_: Annotated[str, typer.Option("--from", help=f"From this time on, {BOUND_FORMS}.")],
    to: Annotated[str, typer.Option("--to", help=f"Up to this time (inclusive), {BOUND_FORMS}.")],
    workers: Workers = 1,
    executor: ExecutorOpt = "threads",
    dask_address: DaskAddress = None,
    force: Force = False,
    dry_run: DryRun = False,
    json_: Json = False,
) -> None:
    """Build every missing or stale partition of ASSETs from --from to --to (resumable)."""
    cli = Invocation.of(ctx)
    options = _run_options("backfill", workers, executor, dask_address)
    planned = cli.project.plan(assets, start=from_, end=to, force=force)
    if dry_run:
        _print_plan(cli, planned, json_)
        return
    _run_plan(cli, planned, options, json_)


def _run_options(command: str, workers: int, executor: str, dask_address: str | None) -> RunOptions:
    from partita.core.run.options import RunOptions

    return RunOptions(
        command=command, workers=workers, executor=executor, dask_address=dask_address
    )


def _print_plan(cli: Invocation, planned: Plan, as_json: bool) -> None:
    from partita.cli.render import render_plan

    render_plan(cli.out, planned, as_json=as_json)


def _run_plan(cli: Invocation, planned: Plan, options: RunOptions, as_json: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from partita.cli.render import render_run_result
    from partita.core.plan.causes import Freshness

    if planned.empty:
        if as_json:
            payload: dict[str, object] = {"run_id": None, "status": Freshness.FRESH, "steps": []}
            cli.out.print_json(json.dumps(payload))
        else:
            cli.out.print("nothing to do: everything asked for is fresh")
        finish(EXIT_OK)
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    cli.running = True
    with Progress(*columns, console=cli.err, transient=True) as progress:
        task = progress.add_task(options.command, total=len(planned.steps))
        on_step = lambda _outcome: progress.advance(task)  # noqa: E731
        result = cli.project.apply(planned, dataclasses.replace(options, on_step=on_step))
    render_run_result(cli.out, cli.err, result, as_json=as_json)
    finish(EXIT_OK if result.ok else EXIT_FAILED)
