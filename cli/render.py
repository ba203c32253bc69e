"""How the ``partita`` command shows things: tables, chains and data, with rich."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from partita.assets import display_key
from partita.core.plan.causes import Freshness
from partita.storage.statuses import StepStatus, TickStatus

if TYPE_CHECKING:
    from rich.console import Console

    from partita.core.maintenance.doctor import DoctorReport
    from partita.core.maintenance.gc import GcResult
    from partita.core.observe.lineage import Lineage
    from partita.core.plan.explain import AssetStatus, WhyLink
    from partita.core.plan.planner import Plan
    from partita.core.run.materializer import RunResult
    from partita.storage import LogLine, RunRecord
    from partita.storage.catalog.ticks import TickRecord

MAX_RANGES = 4
QUERY_FORMATS = ("table", "csv", "json")
_STYLE = {
    Freshness.FRESH: "green",
    Freshness.STALE: "yellow",
    Freshness.MISSING: "red",
    StepStatus.FAILED: "red bold",  # a partition whose last step failed
}


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _key(key: str) -> str:
    # Dynamic keys may hold '[', which rich would read as markup.
    return escape(display_key(key))


def _ranges(ranges: Sequence[str]) -> str:
    shown = escape(", ".join(ranges[:MAX_RANGES]))
    more = len(ranges) - MAX_RANGES
    return shown + (f", … (+{more} more)" if more > 0 else "")


def render_plan(console: Console, planned: Plan, *, as_json: bool) -> None:
    """A plan's steps in order (``--dry-run``), and how many asked-for partitions are fresh."""
    if as_json:
        console.print_json(planned.model_dump_json())
        return
    if planned.empty:
        console.print("nothing to do: everything asked for is fresh")
        return
    table = Table("asset", "partition", "reason", title=f"plan: {len(planned.steps)} steps")
    for step in planned.steps:
        table.add_row(step.asset, step.partition or "-", step.reason)
    console.print(table)
    if planned.fresh:
        console.print(f"{len(planned.fresh)} asked-for partitions are already fresh")


def render_run_result(
    console: Console, errors: Console, result: RunResult, *, as_json: bool
) -> None:
    """What a run built, found fresh, failed and skipped; each failure on ``errors``."""
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
        console.print_json(json.dumps(payload))
        return
    from partita.core.run.outcomes import UPSTREAM_FAILED

    built = result.count(StepStatus.SUCCEEDED)
    fresh = result.count(StepStatus.SKIPPED, Freshness.FRESH)
    failed = result.count(StepStatus.FAILED)
    skipped = result.count(StepStatus.SKIPPED, UPSTREAM_FAILED)
    console.print(
        f"run {result.run_id} {result.status}: {built} built, {fresh} already fresh, "
        f"{failed} failed, {skipped} skipped (upstream failed)"
    )
    for outcome in result.outcomes:
        if outcome.status == StepStatus.FAILED:
            where = f"{outcome.asset} {outcome.partition}".strip()
            errors.print(f"failed: {where} after {outcome.attempts} attempt(s): {outcome.detail}")


def render_status(
    console: Console,
    reports: Sequence[AssetStatus],
    *,
    stale: bool,
    missing: bool,
    as_json: bool,
) -> None:
    """The per-asset status table, and the stale/missing listings when asked."""
    if as_json:
        console.print_json(json.dumps([{**asdict(r), "total": r.total} for r in reports]))
        return
    shown = (Freshness.FRESH, Freshness.STALE, Freshness.MISSING)
    table = Table("asset", *shown, StepStatus.FAILED)
    for report in reports:
        counts = [str(report.counts[s]) for s in shown]
        table.add_row(report.asset, *counts, str(len(report.failed)))
    console.print(table)
    for report in (r for r in reports if r.partitioned):
        for state, ranges in report.ranges.items():
            console.print(f"{report.asset} [{_STYLE[state]}]{state}[/]: {_ranges(ranges)}")
    if stale:
        rows = [(r.asset, key, cause) for r in reports for key, cause in r.stale]
        console.print(f"{len(rows)} stale partitions")
        for asset, key, cause in rows:
            console.print(f"  {asset} {_key(key)}: {escape(cause)}")
    if missing:
        for report in reports:
            missed = report.ranges.get(Freshness.MISSING)
            if not missed:
                continue
            keys = f": {escape(', '.join(missed))}" if report.partitioned else ""
            console.print(f"missing {report.asset}{keys}")
    for report in (r for r in reports if r.outside):
        noun = "partition is" if report.outside == 1 else "partitions are"
        console.print(
            f"{report.asset}: {report.outside} committed {noun} outside the current "
            "definition (kept, not shown)"
        )
    for report in reports:
        for key, failure in report.failed:
            # `partita doctor --fix` records why it marked a partition for rebuild.
            label = "marked for rebuild" if failure.startswith("doctor:") else "last attempt failed"
            console.print(f"[red]{label}[/] {report.asset} {_key(key)}: {escape(failure)}")


def render_partitions(
    console: Console,
    errors: Console,
    asset: str,
    definition: str,
    keys: Sequence[str],
    *,
    as_json: bool,
) -> None:
    """An asset's partition keys, one a line on ``console``; the header goes to ``errors``
    so that the keys can be piped."""
    if as_json:
        payload = {"asset": asset, "definition": definition, "count": len(keys), "keys": keys}
        console.print_json(json.dumps(payload))
        return
    noun = "partition" if len(keys) == 1 else "partitions"
    errors.print(f"{asset}: {escape(definition)}, {len(keys)} {noun}")
    if keys:
        console.out("\n".join(keys), highlight=False)


def render_key_changes(
    console: Console,
    asset: str,
    asked: Sequence[str],
    changed: Sequence[str],
    *,
    added: bool,
    as_json: bool,
) -> None:
    """Which dynamic keys were added (or removed), and which were left as they were."""
    done = set(changed)
    unchanged = [key for key in dict.fromkeys(asked) if key not in done]
    verb, state = ("added", "already present") if added else ("removed", "not present")
    if as_json:
        payload = {"asset": asset, verb: list(changed), state.replace(" ", "_"): unchanged}
        console.print_json(json.dumps(payload))
        return
    direction = "to" if added else "from"
    listed = escape(", ".join(changed)) if changed else "nothing"
    kept = "" if added or not changed else " (their data and state are kept, hidden)"
    console.print(f"{verb} {direction} {asset}: {listed}{kept}")
    if unchanged:
        console.print(f"{state}: {escape(', '.join(unchanged))}")


def render_why(console: Console, chain: Sequence[WhyLink]) -> None:
    """A partition's causes, one link per line, down to the root."""
    for depth, link in enumerate(chain):
        lead = "  " * depth + ("└ " if depth else "")
        cause = f" ({escape(link.cause)})" if link.cause else ""
        style = _STYLE.get(link.status, "")
        console.print(
            f"{lead}{link.asset} {_key(link.partition)}: [{style}]{link.status}[/]{cause}"
        )
        if link.detail:
            console.print("  " * depth + "  " + escape(link.detail))
    root = chain[-1]
    if root.cause:
        console.print(f"root cause: {escape(root.cause)} in {root.asset} {_key(root.partition)}")


def render_runs(console: Console, runs: Sequence[RunRecord], *, as_json: bool) -> None:
    """The runs table."""
    if as_json:
        console.print_json(json.dumps([asdict(r) for r in runs]))
        return
    table = Table("run", "command", "status", "started", "duration", "steps")
    for run in runs:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(run.counts.items()))
        table.add_row(
            run.run_id,
            run.command,
            run.status,
            _when(run.started_at),
            _seconds(run.duration),
            counts or "-",
        )
    console.print(table)


def render_run(console: Console, run: RunRecord, *, as_json: bool) -> None:
    """One run's steps with status, reason, attempts and duration."""
    if as_json:
        console.print_json(json.dumps(asdict(run)))
        return
    console.print(
        f"run {run.run_id} ({run.command}) {run.status}, started {_when(run.started_at)}, "
        f"took {_seconds(run.duration)}"
    )
    table = Table(
        "asset", "partition", "status", "reason", "attempts", "duration", "rows", "detail"
    )
    for step in run.steps:
        table.add_row(
            step.asset,
            _key(step.partition),
            step.status,
            step.reason,
            str(len(step.attempts)),
            _seconds(step.duration),
            "-" if step.rows is None else str(step.rows),
            escape(step.detail or ""),
        )
    console.print(table)
    for step in run.steps:
        for attempt in step.attempts:
            if attempt.error:
                console.print(
                    f"  {step.asset} {_key(step.partition)} attempt {attempt.number} "
                    f"{attempt.status}: {escape(attempt.error)}"
                )


def render_logs(console: Console, lines: Sequence[LogLine]) -> None:
    """Log lines, oldest first."""
    if not lines:
        console.print("no log lines")
    for line in lines:
        console.print(
            f"{_when(line.ts)} {line.level:<7} {line.asset} {_key(line.partition)} "
            f"#{line.attempt}: {escape(line.message)}"
        )


def render_ticks(console: Console, ticks: Sequence[TickRecord], *, as_json: bool) -> None:
    """The daemon's ticks, newest first: per source, what it requested and why."""
    if as_json:
        console.print_json(json.dumps([asdict(t) for t in ticks]))
        return
    if not ticks:
        console.print("no ticks yet: start the daemon with `partita daemon`")
        return
    for tick in ticks:
        when = dt.datetime.fromtimestamp(tick.clock, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        runs = ", ".join(tick.run_ids) or "no run"
        status = tick.status + (f" ({tick.error})" if tick.error else "")
        console.print(
            escape(f"tick {tick.tick_id} at {when} {status}, daemon {tick.daemon}, runs: {runs}"),
            style=_STYLE[StepStatus.FAILED] if tick.status == TickStatus.FAILED else None,
        )
        for decision in tick.decisions:
            source = decision["source"]
            console.print(escape(f"  {source}: {tick.requested(source)} partitions requested"))
            for note in decision.get("notes", ()):
                console.print(escape(f"    {note}"))


def _size(count: int) -> str:
    value, unit = float(count), "bytes"
    for bigger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def render_gc(console: Console, result: GcResult, *, verbose: bool, as_json: bool) -> None:
    """What a garbage collection removed (or would) and kept, per asset."""
    from partita.core.maintenance.gc import FAILED  # a file's fate: it could not be removed

    if as_json:
        payload = {
            **asdict(result),
            "removed": result.count("removed"),
            "removed_bytes": result.bytes("removed"),
            "assets": [asdict(summary) for summary in result.by_asset()],
        }
        console.print_json(json.dumps(payload))
        return
    verb = "would remove" if result.dry_run else "removed"
    table = Table("asset", verb, "bytes", "kept: young", "kept: leased", FAILED)
    for summary in result.by_asset():
        table.add_row(
            summary.asset,
            str(summary.removed),
            _size(summary.removed_bytes),
            str(summary.young),
            str(summary.leased),
            str(summary.failed),
        )
    if result.garbage:
        console.print(table)
    if verbose:
        for item in result.garbage:
            age = "-" if item.age is None else f"{item.age:.0f}s old"
            what = "upload " if item.upload_id else ""
            console.print(f"  {item.fate}: {what}{escape(item.path)} ({_size(item.bytes)}, {age})")
    young, leased = result.count("young"), result.count("leased")
    console.print(
        f"{verb} {result.count('removed')} files ({_size(result.bytes())}); kept "
        f"{young} younger than the grace period and {leased} in leased partitions"
    )
    if not result.dry_run and (result.collected or result.directories):
        console.print(
            f"{result.collected} superseded versions marked collected, "
            f"{result.directories} empty folders removed"
        )
    for item in (g for g in result.garbage if g.fate == FAILED):
        console.print(f"[red]could not remove[/] {escape(item.path)}")


def render_doctor(console: Console, report: DoctorReport, *, as_json: bool) -> None:
    """One line per problem found, then a summary."""
    if as_json:
        payload = {**asdict(report), "healthy": report.healthy}
        payload["garbage"] = {
            "files": report.garbage.count("removed"),
            "bytes": report.garbage.bytes("removed"),
        }
        console.print_json(json.dumps(payload))
        return
    for finding in report.findings:
        where = f"{finding.asset} {_key(finding.partition)}".rstrip()
        marked = " [green](marked for rebuild)[/]" if finding.fixed else ""
        console.print(f"[red]{finding.problem}[/] {where}: {escape(finding.message)}{marked}")
    for lease in report.orphaned_leases:
        console.print(
            f"[yellow]orphaned lease[/] {lease.asset} {_key(lease.partition)}: held by run "
            f"{lease.owner}, which is no longer running (it expires on its own)"
        )
    garbage = report.garbage
    console.print(
        f"checked {report.versions} committed versions ({report.files} files): "
        f"{len(report.findings)} problems"
        + (f", {sum(f.fixed for f in report.findings)} marked for rebuild" if report.fix else "")
    )
    if garbage.count("removed"):
        console.print(
            f"{garbage.count('removed')} unreferenced files ({_size(garbage.bytes())}) "
            "older than an hour: `partita gc` would remove them"
        )
    if report.findings and not report.fix:
        console.print("run `partita doctor --fix` to mark them for rebuild")
    elif any(f.fixed for f in report.findings):
        console.print("rebuild them with `partita materialize` or `partita backfill`")


def render_value(console: Console, value: Any, limit: int) -> None:
    """Committed data: a table's first rows, JSON, or text."""
    if hasattr(value, "num_rows") and hasattr(value, "slice"):
        table = Table(*value.column_names, title=f"{value.num_rows} rows")
        for row in value.slice(0, limit).to_pylist():
            table.add_row(*(escape(str(v)) for v in row.values()))
        console.print(table)
    elif isinstance(value, dict | list):
        console.print_json(json.dumps(value, default=str))
    elif isinstance(value, bytes):
        console.print(f"{len(value)} bytes")
    else:
        console.print(escape(str(value)), markup=False)


def render_query(console: Console, table: Any, format_: str, limit: int) -> None:
    """A query's rows: a table (the first ``limit`` rows), CSV or a JSON list of objects."""
    if format_ == "csv":
        import io

        import pyarrow.csv

        sink = io.BytesIO()
        pyarrow.csv.write_csv(table, sink)
        console.file.write(sink.getvalue().decode())
        console.file.flush()
    elif format_ == "json":
        console.file.write(json.dumps(table.to_pylist(), default=str) + "\n")
        console.file.flush()
    else:
        render_value(console, table, limit)


def render_lineage(console: Console, lineage: Lineage, *, as_json: bool) -> None:
    """A version and the upstream versions it was built from, as a tree."""
    if as_json:
        console.print_json(json.dumps(lineage.to_dict()))
        return
    from rich.tree import Tree

    tree = Tree(_lineage_label(lineage))
    todo = [(tree, lineage)]
    while todo:
        branch, node = todo.pop()
        for item in node.inputs:
            todo.append((branch.add(_lineage_label(item)), item))
        if node.truncated:
            branch.add("…")
    console.print(tree)


def _lineage_label(node: Lineage) -> str:
    where = f"{escape(node.asset)} {_key(node.partition)}".strip()
    if node.version_id is None:
        return f"{where}  [red]no recorded version with data {node.data_version[:12]}[/]"
    built = _when(node.created_at.timestamp()) if node.created_at else "-"
    now = "[green]current[/]" if node.current else "[yellow]superseded[/]"
    return (
        f"[bold]{where}[/]  version {node.version_id}  {now}  run {node.run_id}  "
        f"built {built}  code {(node.code_version or '')[:12]}  data {node.data_version[:12]}"
    )
