"""Fixtures for the web UI: a running ``partita ui`` on a copy of the sales example, chromium.

The browser is Debian's chromium driven through Playwright (``playwright install`` is never
needed). Without playwright or chromium the tests skip, except with ``CI=true``, where they
fail (``_require`` / ``_unavailable``).
"""

from __future__ import annotations

import html.parser
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    EXAMPLES,
    _require,
    _unavailable,
    cli_env,
    interrupt,
    listening_url,
    partita_executable,
)

# The one line `partita ui` prints on stdout once it listens.
LISTENING = re.compile(r"^partita ui: (http://[^\s/]+:\d+/)$")
# The days the fixture builds: sales_report and its upstream raw_sales and clean_sales.
BUILT = ("2026-04-01", "2026-04-05")
STARTUP_LIMIT = 60.0  # seconds; a guard against a server that never says it listens
RUN_LIMIT = 120.0  # seconds; a guard against a run that never ends


def chromium_path() -> str:
    """Debian's chromium, or the one ``PARTITA_TEST_CHROMIUM`` names."""
    return (
        os.environ.get("PARTITA_TEST_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
        or "/usr/bin/chromium"
    )


@dataclass(frozen=True)
class UiServer:
    """A running ``partita ui``: its base URL (ending in ``/``), project folder, stderr log."""

    url: str
    project: Path
    log: Path

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON API path (``/api/...``): the decoded body of a 200 response."""
        httpx = _require("httpx")
        response = httpx.get(self.origin + path, params=params, timeout=30)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def wait_for_run(self, run_id: str) -> dict[str, Any]:
        """Poll ``/api/runs/{run_id}`` until the run is no longer running; return it."""
        deadline = time.monotonic() + RUN_LIMIT
        while True:
            run = self.get(f"/api/runs/{run_id}")
            if run["status"] != "running":
                return run
            assert time.monotonic() < deadline, f"run {run_id} still running: {run}"
            time.sleep(0.2)

    def csrf_token(self) -> str:
        """The token the pages embed in ``<meta name="csrf-token">``."""
        httpx = _require("httpx")
        return csrf_token_of(httpx.get(self.url, timeout=30).text)


class _MetaFinder(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.token: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "meta" and found.get("name") == "csrf-token":
            self.token = found.get("content")


def csrf_token_of(page: str) -> str:
    """The CSRF token in a page's ``<meta name="csrf-token" content=...>``."""
    finder = _MetaFinder()
    finder.feed(page)
    assert finder.token, "the page has no <meta name='csrf-token'>"
    return finder.token


def start_ui(project: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    """Start ``partita ui --port 0`` in a project; return the process and its base URL.

    stderr goes to ``log``; stdout is read until the listening line (within
    ``STARTUP_LIMIT`` seconds, else the server is stopped and the test fails).
    """
    with log.open("w") as errors:
        process = subprocess.Popen(
            [partita_executable(), "ui", "--port", "0"],
            cwd=project,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    url = listening_url(process, LISTENING, STARTUP_LIMIT)
    if not url:
        stop(process)
        pytest.fail(f"partita ui did not print its URL:\n{log.read_text()}")
    return process, url


def stop(process: subprocess.Popen[str]) -> None:
    """Stop a server: SIGINT (as Ctrl-C would), then kill it if it lingers."""
    interrupt(process)
    if process.stdout is not None:
        process.stdout.close()


def prepare_sales(folder: Path, env: dict[str, str] | None = None) -> Path:
    """A copy of examples/sales in which sales_report (and upstream) is built for BUILT."""
    project = folder / "sales"
    shutil.copytree(
        EXAMPLES / "sales", project, ignore=shutil.ignore_patterns(".partita", "__pycache__")
    )
    first, last = BUILT
    done = subprocess.run(
        [partita_executable(), "backfill", "sales_report", "--from", first, "--to", last],
        cwd=project,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return project


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """``partita ui`` on a fresh sales project whose first five days are built."""
    for module in ("fastapi", "uvicorn", "jinja2", "httpx"):  # the ui extra, and a client
        _require(module)
    folder = tmp_path_factory.mktemp("ui")
    project = prepare_sales(folder)
    log = folder / "ui-stderr.log"
    process, url = start_ui(project, log)
    try:
        yield UiServer(url=url, project=project, log=log)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian chromium through Playwright (never a downloaded browser)."""
    sync_api = _require("playwright.sync_api")
    executable = chromium_path()
    if not Path(executable).exists():
        _unavailable(f"these tests need chromium at {executable} (apt-get install chromium)")
    playwright = sync_api.sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser page (its own context: no cookies or storage shared between tests)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)  # a guard for a loaded machine, not a measurement
    try:
        yield context.new_page()
    finally:
        context.close()
