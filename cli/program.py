"""The ``partita`` command: the Typer app, its root group, ``--project`` and ``--version``.

The commands live by concern in :mod:`partita.cli.build`, :mod:`partita.cli.inspect`,
:mod:`partita.cli.manage` and :mod:`partita.cli.serve`; they are registered here, in the
order ``partita --help`` lists them. Heavy modules (the catalog, pyarrow) are imported
inside the commands so that ``partita --help`` starts fast.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any, TextIO

import typer
from typer.core import TyperGroup

from partita.cli import build, inspect, manage, serve
from partita.cli.invocation import EXIT_FAILED, EXIT_USAGE, Invocation
from partita.errors import (
    ConfigError,
    MaterializationError,
    NotAProjectError,
    NotPartitionedError,
    PartitaError,
    PartitionRequiredError,
)


class _Partita(TyperGroup):
    """The root command. Each invocation gets its own :class:`Invocation` (``ctx.obj``).
    A :class:`PartitaError` becomes one line on stderr and exit 1 or 2, and the project
    opened for the command is closed, however it ends: the entry point and an in-process
    invocation (Typer's ``CliRunner``) behave the same."""

    # Typer passes click's Context: typer.Context extends it, and Typer exports no name for it.
    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        cli = ctx.obj = Invocation()
        ctx.call_on_close(cli.close)
        try:
            return super().invoke(ctx)
        except PartitaError as exc:
            # A configuration error found as a run starts (an unreachable Dask scheduler)
            # is still one: no step ran.
            running = cli.running and not isinstance(exc, ConfigError)
            failed_run = running or isinstance(exc, MaterializationError)
            print(f"error: {_message(exc)}", file=sys.stderr)
            raise typer.Exit(EXIT_FAILED if failed_run else EXIT_USAGE) from exc


def _message(exc: PartitaError) -> str:
    """The first line of ``exc``, in the command line's words where the API's differ."""
    if isinstance(exc, PartitionRequiredError):
        example = f" (e.g. {exc.example})" if exc.example else ""
        return f"{exc.asset} is partitioned: pass --partition KEY{example}"
    if isinstance(exc, NotPartitionedError):
        return f"{exc.asset} is not partitioned: drop --partition"
    if isinstance(exc, NotAProjectError):
        return (
            f"{exc.root} is not a partita project: no partita.toml or [tool.partita] in "
            'pyproject.toml; create partita.toml with definitions = "assets.py", or pass '
            "--project DIR"
        )
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


class _ListByDefault(TyperGroup):
    """A group whose first argument, when it names no subcommand, is the argument of
    ``list``: ``partita partitions ASSET`` is ``partita partitions list ASSET``."""

    # click's Context, as in _Partita.invoke.
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["list", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_Partita,
    help="partita: keep date-partitioned data correct, fresh and cheap to rebuild.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

runs_app = typer.Typer(help="List runs, or show one with `partita runs show RUN_ID`.")
runs_app.callback(invoke_without_command=True)(inspect.runs)
runs_app.command("show")(inspect.runs_show)
app.add_typer(runs_app, name="runs")

partitions_app = typer.Typer(
    cls=_ListByDefault,
    help=(
        "List the partition keys of an asset with `partita partitions ASSET`; "
        "add or remove dynamic partition keys."
    ),
    no_args_is_help=True,
)
partitions_app.command("list")(inspect.partitions_list)
partitions_app.command("add")(manage.partitions_add)
partitions_app.command("remove")(manage.partitions_remove)
app.add_typer(partitions_app, name="partitions")

for _command in (
    build.materialize,
    build.backfill,
    inspect.status,
    inspect.why,
    inspect.logs,
    inspect.read,
    inspect.query,
    inspect.lineage,
    manage.gc,
    manage.doctor,
    serve.daemon,
    serve.ticks,
    serve.ui,
):
    app.command()(_command)


def _print_version(value: bool) -> None:
    if value:
        from partita import __version__

        print(f"partita {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
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
    Invocation.of(ctx).path = project
    _show_delivery_warnings()


class _StderrHandler(logging.StreamHandler[TextIO]):
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
