"""The server-rendered pages (Jinja2); a little JavaScript calls the API for the rest."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from partita.errors import PlanError
from partita.ui import views
from partita.ui.api import checked_asset, jobs_of, project_of, run_data
from partita.ui.dag import NODE_HEIGHT, NODE_WIDTH, layout
from partita.ui.gantt import CHART_WIDTH, ROW_HEIGHT, gantt
from partita.ui.segments import HEAT_STATUSES

HEATMAP_WIDTH = 1000.0
MIN_SEGMENT_WIDTH = 1.0

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


def _timestamp(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


templates.env.filters["ts"] = _timestamp


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page, with the CSRF token every page embeds."""
    context["csrf_token"] = request.app.state.csrf_token
    context["project_name"] = project_of(request).root.name
    return templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    """The asset graph, each asset colored by its health."""
    project = project_of(request)
    overview = views.assets_overview(project)
    health = {item["key"]: item["health"] for item in overview["assets"]}
    drawing = layout(project.graph, health)
    return render(
        request,
        "index.html",
        assets=overview["assets"],
        graph=drawing,
        node_width=NODE_WIDTH,
        node_height=NODE_HEIGHT,
    )


@router.get("/assets/{key:path}", response_class=HTMLResponse)
def asset_page(
    request: Request, key: str, start: str | None = None, end: str | None = None
) -> HTMLResponse:
    """An asset: its heat map, counts and the forms to materialize or backfill."""
    project = project_of(request)
    start = request.query_params.get("from") or start
    end = request.query_params.get("to") or end
    checked_asset(project, key)
    heat = views.heatmap(project, key, start, end)
    item = project.graph.get(key)
    return render(
        request,
        "asset.html",
        asset=item,
        kind=views.kind(item.partitions),
        heat=heat,
        rects=_heat_rects(heat),
        statuses=HEAT_STATUSES,
        whole=views.WHOLE,
        start=start or "",
        end=end or "",
        latest=heat["segments"][-1]["last"] if heat["segments"] else "",
        metrics=views.recent_metrics(project, key),
    )


def _heat_rects(heat: dict[str, Any]) -> list[dict[str, Any]]:
    total = max(heat["total"], 1)
    rects, position = [], 0
    for segment in heat["segments"]:
        x = position / total * HEATMAP_WIDTH
        width = max(segment["count"] / total * HEATMAP_WIDTH, MIN_SEGMENT_WIDTH)
        rects.append({**segment, "x": round(x, 3), "width": round(width, 3)})
        position += segment["count"]
    return rects


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request) -> HTMLResponse:
    """The newest runs."""
    runs = [views.run_summary(run) for run in project_of(request).runs(50)]
    return render(request, "runs.html", runs=runs)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> HTMLResponse:
    """A run: its status (polled while it runs), a Gantt chart of its steps, their logs."""
    run = run_data(project_of(request), jobs_of(request), run_id)
    rows = gantt(run, time.time()) if run.get("started_at") else []
    return render(
        request,
        "run.html",
        run=run,
        rows=rows,
        chart_width=CHART_WIDTH,
        chart_height=max(len(rows), 1) * ROW_HEIGHT,
    )


@router.get("/runs/{run_id}/logs", response_class=HTMLResponse)
def logs_page(
    request: Request, run_id: str, asset: str | None = None, partition: str | None = None
) -> HTMLResponse:
    """The log lines of a run, or of one of its steps."""
    project = project_of(request)
    if asset is not None:
        checked_asset(project, asset)
    try:
        lines = project.logs(run_id, asset, partition)
    except PlanError as exc:
        raise HTTPException(404, str(exc)) from None
    return render(
        request,
        "logs.html",
        run_id=run_id,
        asset=asset,
        partition=partition,
        lines=[{**views.plain(line), "message": views.redact(line.message)} for line in lines],
    )


__all__ = ["render", "router", "templates"]
