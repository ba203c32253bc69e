"""Metrics: runs, steps, durations, partition status and sizes, for people and Prometheus.

:func:`prometheus_text` renders the whole project in the Prometheus text exposition
format (version 0.0.4) — what ``GET /metrics`` of ``partita ui`` serves. Counts come
from the catalog in a few bulk queries; the partitions per status come from the status
resolver, as ``partita status`` shows them. :func:`partition_metrics` and
:func:`run_metrics` are the per-partition and per-run numbers the web UI charts.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from partita.storage.catalog.reports import PartitionStats, RunStats
from partita.storage.statuses import StepStatus

if TYPE_CHECKING:
    from partita.core.project import Project

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUANTILES = (0.5, 0.9, 0.99)
RECENT_STEPS = 1000  # the steps per asset the duration quantiles are taken over


def partition_metrics(
    project: Project,
    asset: str,
    limit: int | None = 100,
    partitions: Collection[str] | None = None,
) -> list[PartitionStats]:
    """Rows, bytes, build duration and build time of the current version of ``asset``'s
    newest ``limit`` partitions (by key, newest first; ``None``: all), or of just
    ``partitions``.

    Raises:
        DefinitionError: ``asset`` is not defined.
    """
    project.graph.get(asset)
    return project.catalog.reports.partition_stats(asset, limit, partitions)


def run_metrics(project: Project, limit: int = 20) -> list[RunStats]:
    """The newest ``limit`` runs: status, duration, steps per status, rows and bytes written."""
    return project.catalog.reports.run_stats(limit)


def prometheus_text(project: Project) -> str:
    """Every metric of the project in the Prometheus text format 0.0.4 (see the module)."""
    totals = project.catalog.reports.totals(RECENT_STEPS)
    partitions: dict[tuple[str, str], float] = {}
    for report in project.status():
        for status, count in report.counts.items():
            partitions[(report.asset, status)] = count
        partitions[(report.asset, StepStatus.FAILED)] = len(report.failed)
    lines: list[str] = []
    _family(
        lines,
        "partita_runs_total",
        "counter",
        "Runs recorded in the catalog, by final status.",
        (({"status": s}, n) for s, n in sorted(totals.runs.items())),
    )
    _family(
        lines,
        "partita_steps_total",
        "counter",
        "Steps recorded in the catalog, by asset and status.",
        (({"asset": a, "status": s}, n) for (a, s), n in sorted(totals.steps.items())),
    )
    lines.extend(_durations(totals.durations, totals.duration_sums))
    _family(
        lines,
        "partita_partitions",
        "gauge",
        "Partitions by asset and status (fresh, stale, missing; failed: last step failed).",
        (({"asset": a, "status": s}, n) for (a, s), n in sorted(partitions.items())),
    )
    _family(
        lines,
        "partita_partition_rows",
        "gauge",
        "Rows in the current versions of an asset's partitions (sum).",
        (({"asset": a}, n) for a, n in sorted(totals.rows.items())),
    )
    _family(
        lines,
        "partita_partition_bytes",
        "gauge",
        "Bytes in the current versions of an asset's partitions (sum).",
        (({"asset": a}, n) for a, n in sorted(totals.bytes.items())),
    )
    return "\n".join(lines) + "\n"


def _durations(
    recent: Mapping[str, Sequence[float]], sums: Mapping[str, tuple[int, float]]
) -> list[str]:
    name = "partita_step_duration_seconds"
    lines = [
        f"# HELP {name} Seconds a step ran, by asset (quantiles over its newest "
        f"{RECENT_STEPS} finished steps; sum and count over all).",
        f"# TYPE {name} summary",
    ]
    for asset in sorted(sums):
        ordered = sorted(recent.get(asset, ()))
        for q in QUANTILES:
            value = _quantile(ordered, q)
            lines.append(_sample(name, {"asset": asset, "quantile": _number(q)}, value))
        count, total = sums[asset]
        lines.append(_sample(f"{name}_sum", {"asset": asset}, total))
        lines.append(_sample(f"{name}_count", {"asset": asset}, count))
    return lines


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank quantile of sorted values (NaN for none)."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _family(
    lines: list[str],
    name: str,
    kind: str,
    help_text: str,
    samples: Iterable[tuple[Mapping[str, str], float]],
) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")
    lines.extend(_sample(name, labels, value) for labels, value in samples)


def _sample(name: str, labels: Mapping[str, str], value: float) -> str:
    shown = ",".join(f'{key}="{escape_label(str(v))}"' for key, v in labels.items())
    return f"{name}{{{shown}}} {_number(value)}" if shown else f"{name} {_number(value)}"


def escape_label(value: str) -> str:
    """A label value as the text format wants it: ``\\``, ``"`` and newlines escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return str(value)


__all__ = [
    "CONTENT_TYPE",
    "escape_label",
    "partition_metrics",
    "prometheus_text",
    "run_metrics",
]
