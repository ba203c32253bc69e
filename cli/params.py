"""Arguments and options that several ``partita`` commands share, with their help."""

from __future__ import annotations

from typing import Annotated

import typer

KEY_FORMS = "2026-04-08, 2026-04-08T13:00, 2026-04, date=2026-04-08,region=eu"
BOUND_FORMS = "a date, month or time: 2026-04-08, 2026-04, 2026-04-08T13:00"

Assets = Annotated[list[str], typer.Argument(help="Asset keys.", show_default=False)]
SomeAssets = Annotated[list[str] | None, typer.Argument(help="Asset keys (default: all).")]
Asset = Annotated[str, typer.Argument(help="Asset key.")]
RunId = Annotated[str, typer.Argument(help="Run id, a unique prefix of one, or 'last'.")]

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
