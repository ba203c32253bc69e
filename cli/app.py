"""The ``partita`` command: parse, call the Python API, render with rich. Nothing else.

Heavy modules (the catalog, pyarrow) are imported inside the commands so that
``partita --help`` starts fast.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from partita.errors import ConfigError, MaterializationError, PartitaError

if TYPE_CHECKING:
    from rich.console import Console

    from partita.core.plan.planner import Plan
    from partita.core.project import Project
    from partita.core.run.options import RunOptions
    from partita.core.run.outcomes import RunResult

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Partita(TyperGroup):
    """The root command. A :class:`PartitaError` becomes one line on stderr and exit 1 or 2,
    and the project opened for the command is closed, however it ends: the entry point and
    an in-process invocation (Typer's ``CliRunner``) behave the same."""

    def invoke(self, ctx: typer.Context) -> Any:
        ctx.call_on_close(_close_project)
        try:
            return super().invoke(ctx)
        except PartitaError as exc:
            # A configuration error found as a run starts (an unreachable Dask scheduler)
            # is still one: no step ran.
            running = _state.get("running") and not isinstance(exc, ConfigError)
            failed_run = running or isinstance(exc, MaterializationError)
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"error: {message}", file=sys.stderr)
            raise typer.Exit(EXIT_FAILED if failed_run else EXIT_USAGE) from exc


app = typer.Typer(
    cls=_Partita,
    help="partita: keep date-partitioned data correct, fresh and cheap to rebuild.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="List runs, or show one with `partita runs show RUN_ID`.")
app.add_typer(runs_app, name="runs")


class _ListByDefault(TyperGroup):
    """A group whose first argument, when it names no subcommand, is the argument of
    ``list``: ``partita partitions ASSET`` is ``partita partitions list ASSET``."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["list", *args]
        return super().parse_args(ctx, args)


partitions_app = typer.Typer(
    cls=_ListByDefault,
    help=(
        "List the partition keys of an asset with `partita partitions ASSET`; "
        "add or remove dynamic partition keys."
    ),
    no_args_is_help=True,
)
app.add_typer(partitions_app, name="partitions")

_state: dict[str, Any] = {}

Assets = Annotated[list[str], typer.Argument(help="Asset keys.", show_default=False)]
KEY_FORMS = "2026-04-08, 2026-04-08T13:00, 2026-04, date=2026-04-08,region=eu"
BOUND_FORMS = "a date, month or time: 2026-04-08, 2026-04, 2026-04-08T13:00"

PartitionOpt = Annotated[
    str | None, typer.Option("--partition", "-p", help=f"A partition key: {KEY_FORMS}.")
]
Workers = Annotated[int, typer.Option("--workers", "-w", help="Steps run in parallel.", min=1)]
ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        "-e",
        help="Where steps run: inline, threads, processes or dask.",
        envvar="PARTITA_EXECUTOR",
    ),
]
DaskAddress = Annotated[
    str | None,
    typer.Option(
        "--dask-address",
        help="A Dask scheduler (tcp://host:8786) for --executor dask; default: a local "
        "cluster of --workers processes.",
        envvar="PARTITA_DASK_ADDRESS",
        show_default=False,
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Rebuild the named assets even if fresh.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the plan; build nothing.")]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
FromOpt = Annotated[str | None, typer.Option("--from", help=f"From this time on, {BOUND_FORMS}.")]
ToOpt = Annotated[
    str | None, typer.Option("--to", help=f"Up to this time (inclusive), {BOUND_FORMS}.")
]
Dimension = Annotated[
    str | None,
    typer.Option("--dimension", help="The dynamic dimension to change, if ASSET has several."),
]


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    key = "err" if stderr else "out"
    if key not in _state:
        _state[key] = Console(stderr=stderr, highlight=False, soft_wrap=True)
    return _state[key]


def _project() -> Project:
    if "project" not in _state:
        from partita.core.project import Project

        _state["project"] = Project(_state.get("path"))
    return _state["project"]


def _exit(code: int) -> NoReturn:
    raise typer.Exit(code)


def _close_project() -> None:
    project = _state.pop("project", None)
    if project is not None:
        project.close()


def _print_version(value: bool) -> None:
    if value:
        from partita import __version__

        print(f"partita {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    project: Annotated[
        str | None,
        typer.Option("--project", help="Project directory (default: $PARTITA_PROJECT or cwd)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    _state.clear()  # one command's project, consoles and run flag; nothing from the last one
    _state["path"] = project
    _show_delivery_warnings()


def _print_plan(planned: Plan, as_json: bool) -> None:
    if as_json:
        _console().print_json(planned.model_dump_json())
        return
    from rich.table import Table

    if planned.empty:
        _console().print("nothing to do: everything asked for is fresh")
        return
    table = Table("asset", "partition", "reason", title=f"plan: {len(planned.steps)} steps")
    for step in planned.steps:
        table.add_row(step.asset, step.partition or "-", step.reason)
    _console().print(table)
    if planned.fresh:
        _console().print(f"{len(planned.fresh)} asked-for partitions are already fresh")


def _run_options(command: str, workers: int, executor: str, dask_address: str | None) -> RunOptions:
    from partita.core.run.options import RunOptions

    return RunOptions(
        command=command, workers=workers, executor=executor, dask_address=dask_address
    )


def _run_plan(planned: Plan, options: RunOptions, as_json: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    if planned.empty:
        if as_json:
            _console().print_json(json.dumps({"run_id": None, "status": "fresh", "steps": []}))
        else:
            _console().print("nothing to do: everything asked for is fresh")
        _exit(EXIT_OK)
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    _state["running"] = True  # from here on an error is a failed run (exit 1), not bad usage
    with Progress(*columns, console=_console(stderr=True), transient=True) as progress:
        task = progress.add_task(options.command, total=len(planned.steps))
        on_step = lambda _outcome: progress.advance(task)  # noqa: E731
        result = _project().apply(planned, dataclasses.replace(options, on_step=on_step))
    _report_run(result, as_json)
    _exit(EXIT_OK if result.ok else EXIT_FAILED)


def _report_run(result: RunResult, as_json: bool) -> None:
    if as_json:
        payload = {
            "run_id": result.run_id,
            "status": result.status,
            "steps": [
                {
                    "asset": o.asset,
                    "partition": o.partition,
                    "status": o.status,
                    "detail": o.detail,
                    "attempts": o.attempts,
                    "rows": o.rows,
                    "bytes": o.bytes,
                }
                for o in result.outcomes
            ],
        }
        _console().print_json(json.dumps(payload))
        return
    built = result.count("succeeded")
    fresh = result.count("skipped", "fresh")
    failed = result.count("failed")
    skipped = result.count("skipped", "upstream failed")
    _console().print(
        f"run {result.run_id} {result.status}: {built} built, {fresh} already fresh, "
        f"{failed} failed, {skipped} skipped (upstream failed)"
    )
    for outcome in result.outcomes:
        if outcome.status == "failed":
            where = f"{outcome.asset} {outcome.partition}".strip()
            _console(stderr=True).print(
                f"failed: {where} after {outcome.attempts} attempt(s): {outcome.detail}"
            )


@app.command()
def materialize(
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
    options = _run_options("materialize", workers, executor, dask_address)
    planned = _project().plan(assets, partition, force=force)
    if dry_run:
        _print_plan(planned, json_)
        return
    _run_plan(planned, options, json_)


@app.command()
def backfill(
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
    options = _run_options("backfill", workers, executor, dask_address)
    planned = _project().plan(assets, start=from_, end=to, force=force)
    if dry_run:
        _print_plan(planned, json_)
        return
    _run_plan(planned, options, json_)


@app.command()
def status(
    assets: Annotated[list[str] | None, typer.Argument(help="Asset keys (default: all).")] = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    stale: Annotated[bool, typer.Option("--stale", help="List stale partitions and why.")] = False,
    missing: Annotated[bool, typer.Option("--missing", help="List missing partitions.")] = False,
    json_: Json = False,
) -> None:
    """Per asset: how many partitions are fresh, stale and missing, as key ranges."""
    from partita.cli.render import render_status

    reports = _project().status(assets or None, start=from_, end=to)
    render_status(_console(), reports, stale=stale, missing=missing, as_json=json_)


@app.command()
def why(
    asset: Annotated[str, typer.Argument(help="Asset key.")],
    partition: Annotated[
        str | None, typer.Argument(help=f"A partition key: {KEY_FORMS}.", show_default=False)
    ] = None,
) -> None:
    """Explain why a partition is stale or missing, down to the root cause."""
    from partita.cli.render import render_why

    render_why(_console(), _project().why(asset, partition))


@runs_app.callback(invoke_without_command=True)
def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many runs.", min=1)] = 20,
    json_: Json = False,
) -> None:
    """The newest runs, with status, duration and step counts."""
    if ctx.invoked_subcommand is not None:
        return
    from partita.cli.render import render_runs

    render_runs(_console(), _project().runs(limit), as_json=json_)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id, a unique prefix of one, or 'last'.")],
    json_: Json = False,
) -> None:
    """One run: its steps with status, reason, attempts and duration."""
    from partita.cli.render import render_run

    render_run(_console(), _project().run(run_id), as_json=json_)


@partitions_app.command("list")
def partitions_list(
    asset: Annotated[str, typer.Argument(help="Asset key.")],
    from_: FromOpt = None,
    to: ToOpt = None,
    json_: Json = False,
) -> None:
    """The partition keys ASSET has now, oldest first, one a line (`partita partitions ASSET`).

    A header with the partitions definition and the count goes to stderr, so stdout
    holds only keys.
    """
    from partita.cli.render import render_partitions

    keys = _project().partitions(asset, start=from_, end=to)
    definition = _project().graph.get(asset).partitions
    described = definition.describe() if definition else "unpartitioned"
    render_partitions(_console(), _console(stderr=True), asset, described, keys, as_json=json_)


@partitions_app.command("add")
def partitions_add(
    asset: Annotated[str, typer.Argument(help="Asset key (with dynamic partitions).")],
    keys: Annotated[list[str], typer.Argument(help="Keys to add.", show_default=False)],
    dimension: Dimension = None,
    json_: Json = False,
) -> None:
    """Add KEYs to ASSET's dynamic partitions; keys already there are left as they are."""
    from partita.cli.render import render_key_changes

    added = _project().add_partitions(asset, keys, dimension=dimension)
    render_key_changes(_console(), asset, keys, added, added=True, as_json=json_)


@partitions_app.command("remove")
def partitions_remove(
    asset: Annotated[str, typer.Argument(help="Asset key (with dynamic partitions).")],
    keys: Annotated[list[str], typer.Argument(help="Keys to remove.", show_default=False)],
    dimension: Dimension = None,
    json_: Json = False,
) -> None:
    """Remove KEYs from ASSET's dynamic partitions; their data and state are kept, hidden."""
    from partita.cli.render import render_key_changes

    removed = _project().remove_partitions(asset, keys, dimension=dimension)
    render_key_changes(_console(), asset, keys, removed, added=False, as_json=json_)


@app.command()
def logs(
    run_id: Annotated[str, typer.Argument(help="Run id, a unique prefix of one, or 'last'.")],
    asset: Annotated[str | None, typer.Option("--asset", help="Only this asset.")] = None,
    partition: Annotated[
        str | None, typer.Option("--partition", help="Only this partition, as runs show lists it.")
    ] = None,
) -> None:
    """The log lines of a run's attempts."""
    from partita.cli.render import render_logs

    render_logs(_console(), _project().logs(run_id, asset, partition))


@app.command()
def read(
    asset: Annotated[str, typer.Argument(help="Asset key.")],
    partition: PartitionOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show.", min=1)] = 20,
) -> None:
    """Print the committed data of a partition."""
    from partita.cli.render import render_value

    render_value(_console(), _project().read(asset, partition), limit)


@app.command()
def query(
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

    if format_ not in QUERY_FORMATS:
        _console(stderr=True).print(
            f"error: --format {format_} is not one of {', '.join(QUERY_FORMATS)}", markup=False
        )
        _exit(EXIT_USAGE)
    render_query(_console(), _project().query(sql), format_, limit)


@app.command()
def lineage(
    asset: Annotated[str, typer.Argument(help="Asset key.")],
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

    render_lineage(_console(), _project().lineage(asset, partition, depth), as_json=json_)


@app.command()
def gc(
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

    result = _project().gc(parse_duration(grace, what="--grace"), dry_run=dry_run)
    render_gc(_console(), result, verbose=verbose, as_json=json_)
    _exit(EXIT_FAILED if result.count(FAILED) else EXIT_OK)


@app.command()
def doctor(
    assets: Annotated[list[str] | None, typer.Argument(help="Asset keys (default: all).")] = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Mark missing or corrupt partitions for rebuild.")
    ] = False,
    json_: Json = False,
) -> None:
    """Check that every committed partition's files exist and match their recorded hash."""
    from partita.cli.render import render_doctor

    report = _project().doctor(assets or None, fix=fix)
    render_doctor(_console(), report, as_json=json_)
    _exit(EXIT_OK if report.healthy else EXIT_FAILED)


@app.command()
def daemon(
    once: Annotated[
        bool,
        typer.Option("--once", help="One tick, then exit (exit 0 if another daemon is active)."),
    ] = False,
    interval: Annotated[
        str, typer.Option("--interval", help="Time between ticks: 30s, 5m, 1h.")
    ] = "30s",
) -> None:
    """Keep assets fresh: schedules, eager assets and sensors, one tick every --interval.

    One daemon is active per project; another one waits as a standby and takes over
    when the active one stops. SIGTERM or Ctrl-C lets the steps in flight finish.
    """
    import signal
    import threading

    from partita.assets.durations import parse_duration
    from partita.core.automation.daemon import Daemon

    seconds = parse_duration(interval, what="--interval")
    if seconds <= 0:
        _console(stderr=True).print(f"error: --interval {interval} must be more than 0s")
        _exit(EXIT_USAGE)
    project = _project()
    project.definitions  # noqa: B018 - bad definitions are a usage error, before any tick
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _state["running"] = True
    runner = Daemon(
        project, interval=seconds, echo=lambda line: _console().print(line, markup=False)
    )
    last = runner.run(once=once, stop=stop)
    _exit(EXIT_FAILED if once and last is not None and last.status == "failed" else EXIT_OK)


@app.command()
def ticks(
    limit: Annotated[int, typer.Option("--limit", "-n", help="Ticks to show.", min=1)] = 20,
    json_: Json = False,
) -> None:
    """The daemon's newest ticks: what each source requested and why, and the runs."""
    from partita.cli.render import render_ticks
    from partita.core.automation.daemon import recent_ticks

    render_ticks(_console(), recent_ticks(_project(), limit), as_json=json_)


@app.command()
def ui(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (only this machine by default).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on (0: any free port).", min=0, max=65535)
    ] = 8765,
) -> None:
    """Serve the web UI and its JSON API: assets, partition heat maps, runs, logs.

    Prints `partita ui: http://HOST:PORT/` once it listens; Ctrl-C stops it.
    """
    try:
        from partita.ui.server import serve
    except ImportError as exc:
        from partita._extras import needs_extra

        message = needs_extra("partita ui", exc, default="ui")
        _console(stderr=True).print(f"error: {message}", markup=False)
        _exit(EXIT_USAGE)
    project = _project()
    project.definitions  # noqa: B018 - bad definitions are a usage error, before serving
    serve(project, host, port)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record (a test's capture too)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _show_delivery_warnings() -> None:
    """An alert or lineage event that could not be delivered is one warning line on
    stderr, never an error."""
    for name in ("partita.alerts", "partita.openlineage"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = _StderrHandler()
            handler.setFormatter(logging.Formatter("warning: %(message)s"))
            logger.addHandler(handler)


def main() -> None:
    """Entry point of the ``partita`` command (and ``python -m partita``).

    Errors in what was asked (definitions, configuration, arguments) exit 2; errors
    while a run executes (a step, the catalog, the storage) exit 1.
    """
    app(prog_name="partita")


if __name__ == "__main__":
    main()
