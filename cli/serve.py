"""The commands that keep running or serve: ``ui``, ``daemon``, and ``ticks`` (what the
daemon did)."""

from __future__ import annotations

from typing import Annotated

import typer

from partita.cli.invocation import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Invocation, finish
from partita.cli.params import Json


def ui(
    ctx: typer.Context,
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
    cli = Invocation.of(ctx)
    try:
        from partita.ui.server import serve
    except ImportError as exc:
        from partita._extras import needs_extra

        message = needs_extra("partita ui", exc, default="ui")
        cli.err.print(f"error: {message}", markup=False)
        finish(EXIT_USAGE)
    project = cli.project
    project.definitions  # noqa: B018 - bad definitions are a usage error, before serving
    serve(project, host, port)


def daemon(
    ctx: typer.Context,
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
    from partita.storage.statuses import TickStatus

    cli = Invocation.of(ctx)
    seconds = parse_duration(interval, what="--interval")
    if seconds <= 0:
        cli.err.print(f"error: --interval {interval} must be more than 0s")
        finish(EXIT_USAGE)
    project = cli.project
    project.definitions  # noqa: B018 - bad definitions are a usage error, before any tick
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    cli.running = True
    runner = Daemon(project, interval=seconds, echo=lambda line: cli.out.print(line, markup=False))
    last = runner.run(once=once, stop=stop)
    failed = once and last is not None and last.status == TickStatus.FAILED
    finish(EXIT_FAILED if failed else EXIT_OK)


def ticks(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Ticks to show.", min=1)] = 20,
    json_: Json = False,
) -> None:
    """The daemon's newest ticks: what each source requested and why, and the runs."""
    from partita.cli.render import render_ticks
    from partita.core.automation.daemon import recent_ticks

    cli = Invocation.of(ctx)
    render_ticks(cli.out, recent_ticks(cli.project, limit), as_json=json_)
