"""The web UI's app: ``create_app(project)`` builds it; ``partita ui`` serves it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from partita.core.project import Project
from partita.errors import PartitaError
from partita.ui import api, pages
from partita.ui.jobs import JobRunner
from partita.ui.security import host_allowed, new_token
from partita.ui.views import redact

log = logging.getLogger("partita.ui")


def create_app(project: Project, *, hosts: Collection[str] | None = None) -> FastAPI:
    """The web UI and JSON API over ``project``.

    Args:
        project: the project to show and run.
        hosts: the ``Host`` headers to answer (``host:port``, lower case); ``None``
            answers any. ``partita ui`` passes the address it listens on.
    """
    project.definitions  # noqa: B018 - bad definitions fail here, not in the first request
    project.catalog  # noqa: B018 - opened once, before threads share it
    jobs = JobRunner(project)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()

    app = FastAPI(
        title="partita",
        summary="Assets, partitions and runs of a partita project.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.project = project
    app.state.jobs = jobs
    app.state.csrf_token = new_token()
    app.state.hosts = None if hosts is None else {h.lower() for h in hosts}
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    _add_metrics(app)
    _add_error_handlers(app)
    return app


def _add_metrics(app: FastAPI) -> None:
    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus metrics of the project."""
        try:
            from partita.core.observe.metrics import prometheus_text
        except ImportError:
            return PlainTextResponse("metrics are not available in this version\n", 503)
        text = prometheus_text(request.app.state.project)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def _wants_html(request: Request) -> bool:
    # Pages answer errors with a page; the API and /metrics with JSON.
    return not request.url.path.startswith(("/api", "/metrics", "/static"))


def _error(request: Request, status: int, message: str) -> Response:
    message = redact(message) or "error"
    if _wants_html(request):
        return pages.render(request, "error.html", status_code=status, message=message)
    return JSONResponse({"detail": message}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.middleware("http")
    async def check_host(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not host_allowed(request.headers.get("host"), request.app.state.hosts):
            return JSONResponse(
                {"detail": "unknown Host header: use the URL partita ui printed"}, 400
            )
        return await call_next(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(PartitaError)
    async def partita_error(request: Request, exc: PartitaError) -> Response:
        return _error(request, 400, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request"
        if _wants_html(request):
            return pages.render(request, "error.html", status_code=422, message=message)
        detail = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in errors]
        return JSONResponse({"detail": detail, "message": message}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error in %s", request.url.path)
        return _error(request, 500, f"internal error: {type(exc).__name__}: {exc}")


__all__ = ["create_app"]
