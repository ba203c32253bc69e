"""The web UI in a real browser (headless Debian chromium) on the sales example.

One server for the module (``ui_server``: days 2026-04-01..05 built); each test takes its
own partitions, so the order the tests run in does not matter.
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _require
from tests.ui.conftest import BUILT, UiServer

SALES_ASSETS = {"raw_sales", "clean_sales", "warehouse_sales", "sales_report", "sales_summary"}
HEALTHS = {"fresh", "stale", "missing", "failed", "running"}
RUN_DONE = 120_000  # ms: a guard for a loaded machine, not a measurement


def expect(target: Any) -> Any:
    return _require("playwright.sync_api").expect(target)


def segments_of(page: Any) -> list[dict[str, str]]:
    """The heat map's segments as drawn: status, first and last key of each."""
    return page.locator('[data-testid="heatmap-segment"]').evaluate_all(
        "els => els.map(e => ({status: e.dataset.status, first: e.dataset.first,"
        " last: e.dataset.last}))"
    )


def status_of(segments: list[dict[str, str]], key: str) -> str:
    """The status of the segment that holds a (daily, ISO) key."""
    holding = [s for s in segments if s["first"] <= key <= s["last"]]
    assert len(holding) == 1, f"{key} is in {len(holding)} segments: {segments}"
    return holding[0]["status"]


def test_graph_shows_every_asset_and_its_health(
    ui_server: UiServer, page: Any, tmp_path: Path
) -> None:
    page.goto(ui_server.url)
    expect(page.get_by_test_id("asset-graph")).to_be_visible()
    nodes = page.locator('[data-testid="asset-graph"] [data-testid="asset-node"]')
    expect(nodes).to_have_count(len(SALES_ASSETS))
    health = dict(nodes.evaluate_all("els => els.map(e => [e.dataset.asset, e.dataset.health])"))
    assert set(health) == SALES_ASSETS
    assert set(health.values()) <= HEALTHS
    # Five days built out of every day since 2026-04-01: most partitions are missing.
    assert health["raw_sales"] == "missing"
    listed = {a["key"]: a["health"] for a in ui_server.get("/api/assets")["assets"]}
    assert health == listed
    expect(page.get_by_test_id("nav-assets")).to_be_visible()
    expect(page.get_by_test_id("nav-runs")).to_be_visible()
    page.screenshot(path=tmp_path / "graph.png", full_page=True)

    page.locator('[data-testid="asset-node"][data-asset="clean_sales"]').click()
    page.wait_for_url("**/assets/clean_sales")
    expect(page.get_by_test_id("heatmap")).to_be_visible()


def test_heat_map_shows_built_and_missing_days(
    ui_server: UiServer, page: Any, tmp_path: Path
) -> None:
    page.goto(ui_server.url + "assets/sales_report")
    expect(page.get_by_test_id("heatmap")).to_be_visible()
    segments = segments_of(page)
    first, last = BUILT
    assert segments[0] == {"status": "fresh", "first": first, "last": last}
    assert segments[1]["status"] == "missing"
    assert segments[1]["first"] == "2026-04-06"
    # Merged runs: neighbours never share a status.
    assert all(a["status"] != b["status"] for a, b in itertools.pairwise(segments))
    page.screenshot(path=tmp_path / "heatmap.png", full_page=True)

    page.locator('[data-testid="heatmap-segment"]').first.click()
    detail = page.get_by_test_id("partition-detail")
    expect(detail).to_be_visible()
    expect(detail).to_contain_text("fresh")
    expect(detail).to_contain_text("clean_sales")  # the lineage: what it was built from
    page.screenshot(path=tmp_path / "partition-detail.png", full_page=True)


def test_materialize_a_missing_day_from_the_page(
    ui_server: UiServer, page: Any, tmp_path: Path
) -> None:
    day = "2026-04-07"
    page.goto(ui_server.url + "assets/raw_sales")
    assert status_of(segments_of(page), day) == "missing"

    form = page.get_by_test_id("materialize-form")
    form.get_by_test_id("partition-input").fill(day)
    form.get_by_test_id("materialize-button").click()
    page.wait_for_url("**/runs/*")
    run_id = page.url.rstrip("/").rsplit("/", 1)[1]
    expect(page.get_by_test_id("run-status")).to_have_text("succeeded", timeout=RUN_DONE)
    bars = page.locator('[data-testid="gantt"] [data-testid="gantt-bar"]')
    expect(bars).to_have_count(1)  # raw_sales has no upstream: one step
    bar = bars.first
    assert bar.get_attribute("data-asset") == "raw_sales"
    assert bar.get_attribute("data-partition") == day
    assert bar.get_attribute("data-status") == "succeeded"
    page.screenshot(path=tmp_path / "run.png", full_page=True)

    run = ui_server.get(f"/api/runs/{run_id}")
    assert run["status"] == "succeeded"
    assert [(s["asset"], s["partition"]) for s in run["steps"]] == [("raw_sales", day)]

    page.get_by_test_id("logs-link").first.click()
    page.wait_for_url("**/logs*")
    logs = page.get_by_test_id("logs")
    expect(logs).to_contain_text("fetched ")
    expect(logs).to_contain_text(f"orders for {day}")
    page.screenshot(path=tmp_path / "logs.png", full_page=True)

    page.goto(ui_server.url + "assets/raw_sales")
    expect(page.get_by_test_id("heatmap")).to_be_visible()
    segments = segments_of(page)
    assert status_of(segments, day) == "fresh"
    assert status_of(segments, "2026-04-06") == "missing"
    assert status_of(segments, "2026-04-08") == "missing"
    page.screenshot(path=tmp_path / "heatmap-after.png", full_page=True)


def test_runs_page_lists_runs(ui_server: UiServer, page: Any, tmp_path: Path) -> None:
    page.goto(ui_server.url)
    page.get_by_test_id("nav-runs").click()
    page.wait_for_url("**/runs")
    expect(page.get_by_test_id("runs-table")).to_be_visible()
    shown = page.locator('[data-testid="run-row"]').evaluate_all(
        "els => els.map(e => e.dataset.run)"
    )
    assert shown, "no run rows: the fixture's backfill made one"
    assert set(shown) == {r["run_id"] for r in _runs(ui_server)}
    page.screenshot(path=tmp_path / "runs.png", full_page=True)


def _runs(ui_server: UiServer) -> list[dict[str, Any]]:
    return ui_server.get("/api/runs", limit=1000)["runs"]


def test_post_without_the_token_is_refused(ui_server: UiServer, page: Any) -> None:
    page.goto(ui_server.url + "assets/raw_sales")
    before = len(_runs(ui_server))
    status, body = page.evaluate(
        """async () => {
            const r = await fetch('/api/materialize', {method: 'POST',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({asset: 'raw_sales', partition: '2026-04-09', force: false})});
            return [r.status, await r.text()];
        }"""
    )
    assert status == 403
    assert json.loads(body)  # a JSON message, not a page
    assert len(_runs(ui_server)) == before


@pytest.fixture
def other_origin(ui_server: UiServer) -> Iterator[str]:
    """Another local origin serving a page whose form posts to the UI, as a hostile site would."""
    # text/plain needs no preflight: the browser sends it cross-site as it is.
    attack = f"""<!doctype html><html><body>
<form id="attack" method="post" enctype="text/plain" action="{ui_server.origin}/api/materialize">
<input type="hidden" name='{{"asset": "raw_sales", "partition": "2026-04-10", "force": true, "x": "'
 value='"}}'>
<button id="go" type="submit">go</button></form></body></html>""".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(attack)))
            self.end_headers()
            self.wfile.write(attack)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_cross_site_form_post_is_refused(
    ui_server: UiServer, page: Any, other_origin: str, tmp_path: Path
) -> None:
    before = len(_runs(ui_server))
    page.goto(other_origin)
    with page.expect_response(lambda r: r.url.endswith("/api/materialize")) as answered:
        page.click("#go")
    assert answered.value.status == 403
    page.screenshot(path=tmp_path / "cross-site.png", full_page=True)
    assert len(_runs(ui_server)) == before


def test_token_with_a_foreign_origin_is_refused(ui_server: UiServer) -> None:
    httpx = _require("httpx")
    token = ui_server.csrf_token()
    body = {"asset": "raw_sales", "partition": "2026-04-11", "force": False}
    before = len(_runs(ui_server))
    for origin in ("http://127.0.0.1:1", "http://evil.example", "null"):
        refused = httpx.post(
            ui_server.origin + "/api/materialize",
            json=body,
            headers={"X-CSRF-Token": token, "Origin": origin},
            timeout=30,
        )
        assert refused.status_code == 403, (origin, refused.text)
    wrong = httpx.post(
        ui_server.origin + "/api/materialize",
        json=body,
        headers={"X-CSRF-Token": token[::-1] + "x", "Origin": ui_server.origin},
        timeout=30,
    )
    assert wrong.status_code == 403, wrong.text
    assert len(_runs(ui_server)) == before
    # The same request from the UI's own origin with the right token is accepted.
    accepted = httpx.post(
        ui_server.origin + "/api/materialize",
        json=body,
        headers={"X-CSRF-Token": token, "Origin": ui_server.origin},
        timeout=30,
    )
    assert accepted.status_code == 202, accepted.text
    assert ui_server.wait_for_run(accepted.json()["run_id"])["status"] == "succeeded"
