"""The geometry of a run's Gantt chart: one row per step, attempts as sub-bars (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CHART_WIDTH = 1000.0
ROW_HEIGHT, BAR_HEIGHT, ATTEMPT_HEIGHT = 22, 16, 6
MIN_WIDTH = 2.0


@dataclass(frozen=True, slots=True)
class Bar:
    """A horizontal bar in chart units (``x`` and ``width`` out of :data:`CHART_WIDTH`)."""

    x: float
    width: float
    y: int
    status: str
    title: str


@dataclass(frozen=True, slots=True)
class GanttRow:
    """One step: its bar and its attempts' bars."""

    asset: str
    partition: str
    status: str
    bar: Bar
    attempts: tuple[Bar, ...]


def gantt(run: Mapping[str, Any], now: float) -> list[GanttRow]:
    """Place the steps of ``run`` (as the API gives it) on a common time axis.

    The axis runs from the run's start to its finish (``now`` while it runs). A step
    that never started (skipped) is a thin bar where it was decided.
    """
    t0 = run["started_at"]
    t1 = run.get("finished_at") or now
    span = max(t1 - t0, 1e-6)

    def bar(start: float | None, end: float | None, y: int, status: str, title: str) -> Bar:
        begin = start if start is not None else end if end is not None else t0
        finish = end if end is not None else (now if start is not None else begin)
        x = (begin - t0) / span * CHART_WIDTH
        width = max((finish - begin) / span * CHART_WIDTH, MIN_WIDTH)
        return Bar(round(min(x, CHART_WIDTH - MIN_WIDTH), 2), round(width, 2), y, status, title)

    rows = []
    for index, step in enumerate(run.get("steps", ())):
        y = index * ROW_HEIGHT
        label = f"{step['asset']} {step['partition']}".strip()
        main = bar(step["started_at"], step["finished_at"], y, step["status"], label)
        attempts = tuple(
            bar(
                a["started_at"],
                a["finished_at"],
                y + BAR_HEIGHT - ATTEMPT_HEIGHT,
                a["status"],
                f"attempt {a['number']}: {a['status']}"
                + (f" ({a['error']})" if a["error"] else ""),
            )
            for a in step["attempts"]
        )
        rows.append(GanttRow(step["asset"], step["partition"], step["status"], main, attempts))
    return rows


__all__ = ["Bar", "GanttRow", "gantt"]
