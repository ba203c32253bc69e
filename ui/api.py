"""The JSON API under ``/api`` (OpenAPI at ``/api/openapi.json``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from partita.core.project import Project
from partita.errors import PlanError
from partita.storage.statuses import RunStatus
from partita.ui import views
from partita.ui.jobs import JobRunner
from partita.ui.security import CSRF_HEADER, csrf_problem


class Message(BaseModel):
    """An error: one message saying what is wrong."""

    detail: str


class MaterializeRequest(BaseModel):
    """Build one partition of an asset (and what it needs upstream)."""

    model_config = ConfigDict(extra="forbid")

    asset: str
    partition: str | None = None
    force: bool = False


class BackfillRequest(BaseModel):
    """Build every partition of an asset from ``from`` to ``to`` (inclusive)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    asset: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    force: bool = False


class Started(BaseModel):
    """A run started in the background; follow it at ``/api/runs/{run_id}``."""

    run_id: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Message, "description": "Bad input"},
    404: {"model": Message, "description": "Not found"},
}


def project_of(request: Request) -> Project:
    """The app's project."""
    project: Project = request.app.state.project
    return project


def jobs_of(request: Request) -> JobRunner:
    """The app's background runs."""
    jobs: JobRunner = request.app.state.jobs
    return jobs


def own_origin(request: Request) -> str:
    """The origin the request was sent to (``http://host:port``)."""
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def check_csrf(
    request: Request,
    token: Annotated[str | None, Header(alias=CSRF_HEADER)] = None,
    origin: Annotated[str | None, Header()] = None,
) -> None:
    """Refuse (403) a write without the page's token or from another origin."""
    problem = csrf_problem(request.app.state.csrf_token, token, origin, own_origin(request))
    if problem is not None:
        raise HTTPException(403, problem)


def checked_asset(project: Project, key: str) -> str:
    """``key`` if it names an asset, else a 404 that lists the known ones."""
    if key not in project.graph:
        known = ", ".join(project.graph.order) or "none"
        raise HTTPException(404, f"unknown asset {key!r}; known assets: {known}")
    return key


ProjectDep = Annotated[Project, Depends(project_of)]
router = APIRouter(prefix="/api", responses=ERRORS)


@router.get("/assets")
def list_assets(project: ProjectDep) -> dict[str, Any]:
    """Every asset with its partition counts and health, and the edges between them."""
    return views.assets_overview(project)


@router.get("/assets/{key:path}/partitions/{partition}")
def partition_detail(project: ProjectDep, key: str, partition: str) -> dict[str, Any]:
    """One partition: status, cause, the chain of causes, version, lineage, metrics.
    (``-`` names the one partition of an unpartitioned asset.)"""
    return views.partition_detail(project, checked_asset(project, key), partition)


@router.get("/assets/{key:path}/partitions")
def asset_heatmap(
    project: ProjectDep,
    key: str,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """The partitions of an asset as segments of consecutive partitions with one status."""
    return views.heatmap(project, checked_asset(project, key), start, end)


@router.get("/runs")
def list_runs(
    project: ProjectDep, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> dict[str, Any]:
    """The newest runs, newest first."""
    return {"runs": [views.run_summary(run) for run in project.runs(limit)]}


@router.get("/runs/{run_id}")
def run_detail(request: Request, project: ProjectDep, run_id: str) -> dict[str, Any]:
    """A run with its steps and their attempts (``status`` is ``running`` until done)."""
    return run_data(project, jobs_of(request), run_id)


def run_data(project: Project, jobs: JobRunner, run_id: str) -> dict[str, Any]:
    """A run as the API shows it, also while it is starting (not in the catalog yet)."""
    if jobs.known(run_id):
        found = project.catalog.run(run_id)
        if found is None or found.run_id != run_id:
            error = jobs.error(run_id)
            status = RunStatus.FAILED if error or not jobs.active(run_id) else RunStatus.RUNNING
            return {
                "run_id": run_id,
                "status": status,
                "error": error,
                "duration": None,
                "steps": [],
            }
        return views.run_detail(found)
    try:
        return views.run_detail(project.run(run_id))
    except PlanError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/runs/{run_id}/logs")
def run_logs(
    project: ProjectDep,
    run_id: str,
    asset: str | None = None,
    partition: str | None = None,
) -> dict[str, Any]:
    """The log lines of a run, optionally of one asset and partition."""
    if asset is not None:
        checked_asset(project, asset)
    try:
        lines = project.logs(run_id, asset, partition)
    except PlanError as exc:
        raise HTTPException(404, str(exc)) from None
    return {
        "lines": [{**views.plain(line), "message": views.redact(line.message)} for line in lines]
    }


@router.post(
    "/materialize",
    status_code=202,
    dependencies=[Depends(check_csrf)],
    responses={403: {"model": Message, "description": "Cross-site request refused"}},
)
def materialize(request: Request, project: ProjectDep, body: MaterializeRequest) -> Started:
    """Build a partition (what it needs upstream first) in the background."""
    checked_asset(project, body.asset)
    planned = project.plan([body.asset], body.partition, force=body.force)
    return Started(run_id=jobs_of(request).start(planned, "materialize"))


@router.post(
    "/backfill",
    status_code=202,
    dependencies=[Depends(check_csrf)],
    responses={403: {"model": Message, "description": "Cross-site request refused"}},
)
def backfill(request: Request, project: ProjectDep, body: BackfillRequest) -> Started:
    """Build every partition from ``from`` to ``to`` in the background."""
    checked_asset(project, body.asset)
    planned = project.plan([body.asset], start=body.start, end=body.end, force=body.force)
    return Started(run_id=jobs_of(request).start(planned, "backfill"))


__all__ = ["router", "run_data"]
