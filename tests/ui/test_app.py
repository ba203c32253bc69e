"""The web UI and its JSON API over a copy of examples/sales (no browser)."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, _require

_require("fastapi")  # the ui extra (in the test extra): a skip locally, a failure on CI
from fastapi.testclient import TestClient  # noqa: E402

from partita.core.plan.status import PartitionStatus  # noqa: E402
from partita.core.project import Project  # noqa: E402
from partita.ui.app import create_app  # noqa: E402
from partita.ui.segments import count_statuses, health, heat_statuses, segments  # noqa: E402

TESTIDS = {
    "/": ["asset-graph", "asset-node", "nav-assets", "nav-runs"],
    "/assets/clean_sales": [
        "heatmap",
        "heatmap-segment",
        "legend",
        "partition-detail",
        "materialize-form",
        "partition-input",
        "materialize-button",
        "backfill-form",
        "from-input",
        "to-input",
        "backfill-button",
    ],
    "/runs": ["runs-table", "run-row"],
}


# -- segments (pure) ---------------------------------------------------------------------


def test_segments_merge_consecutive_partitions_with_one_status() -> None:
    keys = [f"2026-04-{day:02}" for day in range(1, 9)]
    statuses = ["fresh", "fresh", "stale", "missing", "missing", "missing", "fresh", "failed"]
    found = [(s.first, s.last, s.status, s.count) for s in segments(keys, statuses)]
    assert found == [
        ("2026-04-01", "2026-04-02", "fresh", 2),
        ("2026-04-03", "2026-04-03", "stale", 1),
        ("2026-04-04", "2026-04-06", "missing", 3),
        ("2026-04-07", "2026-04-07", "fresh", 1),
        ("2026-04-08", "2026-04-08", "failed", 1),
    ]
    assert [s.start_index for s in segments(keys, statuses)] == [0, 2, 3, 6, 7]
    assert segments([], []) == []


def test_many_partitions_make_few_segments() -> None:
    keys = [str(i) for i in range(100_000)]
    statuses = ["fresh"] * 60_000 + ["missing"] * 39_990 + ["stale"] * 10
    found = segments(keys, statuses)
    assert [(s.first, s.last, s.count) for s in found] == [
        ("0", "59999", 60_000),
        ("60000", "99989", 39_990),
        ("99990", "99999", 10),
    ]


def test_heat_statuses_show_failures_and_leases_first() -> None:
    keys = ["a", "b", "c", "d"]
    results = [
        PartitionStatus("fresh"),
        PartitionStatus("stale", failure="boom"),
        PartitionStatus("missing"),
        PartitionStatus("missing", failure="boom"),
    ]
    statuses = heat_statuses(keys, results, {"c", "d"})
    assert statuses == ["fresh", "failed", "running", "running"]
    counts = count_statuses(statuses)
    assert counts == {"fresh": 1, "stale": 0, "missing": 0, "failed": 1, "running": 2}
    assert health(counts) == "failed"
    assert health(count_statuses(["fresh", "stale", "missing"])) == "missing"
    assert health(count_statuses(["fresh"])) == "fresh"


# -- the app over examples/sales ----------------------------------------------------------


def _copy_sales(target: Path) -> Path:
    shutil.copytree(
        EXAMPLES / "sales", target, ignore=shutil.ignore_patterns(".partita", "__pycache__")
    )
    return target


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, str]]:
    """examples/sales after a three-day backfill of clean_sales (and a sales_summary)."""
    project = Project(_copy_sales(tmp_path_factory.mktemp("ui") / "sales"))
    run = project.backfill("clean_sales", "2026-04-01", "2026-04-03")
    assert run.status == "succeeded"
    yield project, run.run_id
    project.close()


@pytest.fixture(scope="module")
def client(built: tuple[Project, str]) -> Iterator[TestClient]:
    with TestClient(create_app(built[0])) as test_client:
        yield test_client


def _token(client: TestClient) -> str:
    page = client.get("/").text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert found, "every page embeds the CSRF token"
    return found.group(1)


def _wait(client: TestClient, run_id: str, deadline_s: float = 120) -> dict[str, Any]:
    give_up = time.monotonic() + deadline_s
    while True:
        data = client.get(f"/api/runs/{run_id}").json()
        if data["status"] != "running" or time.monotonic() > give_up:
            return data
        time.sleep(0.05)


def test_assets_api_counts_partitions_and_lists_edges(client: TestClient) -> None:
    data = client.get("/api/assets").json()
    assets = {item["key"]: item for item in data["assets"]}
    assert set(assets) == {
        "raw_sales",
        "clean_sales",
        "warehouse_sales",
        "sales_report",
        "sales_summary",
    }
    clean = assets["clean_sales"]
    assert clean["partitioned"] is True
    assert clean["kind"] == "daily"
    assert clean["counts"]["fresh"] == 3
    assert clean["counts"]["missing"] >= 1
    assert clean["health"] == "missing"
    assert assets["sales_summary"]["kind"] == "unpartitioned"
    assert assets["sales_summary"]["counts"]["missing"] == 1
    assert {"from": "raw_sales", "to": "clean_sales"} in data["edges"]
    assert {"from": "clean_sales", "to": "sales_report"} in data["edges"]


def test_heatmap_merges_partitions_in_time_order(client: TestClient) -> None:
    data = client.get("/api/assets/clean_sales/partitions").json()
    first, second = data["segments"][:2]
    assert first == {
        "first": "2026-04-01",
        "last": "2026-04-03",
        "start": "2026-04-01T00:00:00+00:00",
        "end": "2026-04-04T00:00:00+00:00",
        "status": "fresh",
        "count": 3,
    }
    assert (second["first"], second["status"]) == ("2026-04-04", "missing")
    assert sum(s["count"] for s in data["segments"]) == data["total"]
    assert sum(data["counts"].values()) == data["total"]

    ranged = client.get("/api/assets/clean_sales/partitions?from=2026-04-02&to=2026-04-05").json()
    assert ranged["total"] == 4
    assert [(s["first"], s["last"], s["status"]) for s in ranged["segments"]] == [
        ("2026-04-02", "2026-04-03", "fresh"),
        ("2026-04-04", "2026-04-05", "missing"),
    ]


def test_a_run_not_recorded_yet_shows_as_running(client: TestClient) -> None:
    # The page of a run started from the UI may be asked for before the run's thread
    # has recorded it in the catalog.
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    jobs = client.app.state.jobs
    try:
        with jobs._lock:
            jobs._threads["not-recorded-yet"] = thread
        page = client.get("/runs/not-recorded-yet")
        data = client.get("/api/runs/not-recorded-yet").json()
    finally:
        release.set()
        thread.join()
    assert page.status_code == 200, page.text
    assert 'data-testid="run-status" class="badge s-running">running<' in page.text
    assert (data["status"], data["steps"]) == ("running", [])


def test_partition_detail_has_status_why_and_version(client: TestClient) -> None:
    fresh = client.get("/api/assets/clean_sales/partitions/2026-04-02").json()
    assert fresh["status"] == "fresh"
    assert fresh["version"]["rows"] > 0
    assert fresh["why"][0]["status"] == "fresh"
    assert [i["asset"] for i in fresh["lineage"]["inputs"]] == ["raw_sales"]
    assert fresh["lineage"]["version_id"] == fresh["version"]["version_id"]
    assert fresh["lineage"]["current"] and fresh["lineage"]["created_at"]
    missing = client.get("/api/assets/sales_report/partitions/2026-04-02").json()
    assert missing["status"] == "missing"
    assert missing["version"] is None
    assert missing["why"][0]["cause"] == "missing"
    whole = client.get("/api/assets/sales_summary/partitions/-").json()
    assert (whole["partition"], whole["status"]) == ("", "missing")


def test_runs_api_has_steps_attempts_and_logs(
    client: TestClient, built: tuple[Project, str]
) -> None:
    run_id = built[1]
    listed = client.get("/api/runs?limit=5").json()["runs"]
    assert run_id in [run["run_id"] for run in listed]
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "succeeded"
    assert {(s["asset"], s["partition"]) for s in run["steps"]} == {
        (asset, f"2026-04-0{day}") for asset in ("raw_sales", "clean_sales") for day in (1, 2, 3)
    }
    step = run["steps"][0]
    assert step["started_at"] <= step["finished_at"]
    assert step["attempts"][0]["number"] == 1
    logs = client.get(f"/api/runs/{run_id}/logs?asset=raw_sales&partition=2026-04-01").json()
    assert any("fetched" in line["message"] for line in logs["lines"])


@pytest.mark.parametrize("path", sorted(TESTIDS))
def test_pages_carry_their_test_ids(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    for testid in TESTIDS[path]:
        assert f'data-testid="{testid}"' in page.text, testid


def test_graph_nodes_link_to_assets_with_their_health(client: TestClient) -> None:
    page = client.get("/").text
    node = re.search(
        r'<g data-testid="asset-node" data-asset="clean_sales" data-health="(\w+)"', page
    )
    assert node and node.group(1) == "missing"
    assert 'href="/assets/clean_sales"' in page


def test_heatmap_page_draws_one_rect_per_segment(client: TestClient) -> None:
    api = client.get("/api/assets/clean_sales/partitions").json()
    page = client.get("/assets/clean_sales").text
    rects = re.findall(r'data-status="(\w+)"\s+data-first="([^"]*)" data-last="([^"]*)"', page)
    assert rects == [(s["status"], s["first"], s["last"]) for s in api["segments"]]


def test_run_and_logs_pages(client: TestClient, built: tuple[Project, str]) -> None:
    run_id = built[1]
    page = client.get(f"/runs/{run_id}").text
    assert re.search(r'data-testid="run-status"[^>]*>succeeded<', page)
    assert page.count('data-testid="gantt-bar"') == 6
    assert page.count('data-testid="logs-link"') == 6
    logs = client.get(f"/runs/{run_id}/logs?asset=raw_sales&partition=2026-04-01").text
    assert '<pre data-testid="logs">' in logs
    assert "fetched" in logs


def test_metrics_route(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/api/assets/nope/partitions", None, 404),
        ("get", "/api/assets/nope/partitions/2026-04-01", None, 404),
        ("get", "/api/assets/clean_sales/partitions/2026-13-01", None, 400),
        ("get", "/api/assets/clean_sales/partitions/not%20a%20key", None, 400),
        ("get", "/api/assets/sales_summary/partitions/2026-04-01", None, 400),
        ("get", "/api/assets/clean_sales/partitions?from=yesterday", None, 400),
        ("get", "/api/runs/NOPE", None, 404),
        ("get", "/api/runs?limit=0", None, 422),
        ("get", "/assets/nope", None, 404),
        ("post", "/api/materialize", {"asset": "nope", "partition": "2026-04-01"}, 404),
        ("post", "/api/materialize", {"asset": "clean_sales"}, 400),
        ("post", "/api/materialize", {"asset": "clean_sales", "partition": "04/01"}, 400),
        ("post", "/api/materialize", {"partition": "2026-04-01"}, 422),
        ("post", "/api/materialize", {"asset": "clean_sales", "bogus": 1}, 422),
        ("post", "/api/backfill", {"asset": "clean_sales", "from": "2026-04-05"}, 422),
        ("post", "/api/backfill", {"asset": "sales_summary", "from": "x", "to": "y"}, 400),
    ],
)
def test_bad_input_is_a_client_error_with_one_message(
    client: TestClient, method: str, path: str, body: Any, status: int
) -> None:
    headers = {"X-CSRF-Token": _token(client)}
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code == status, response.text
    if path.startswith("/api"):
        data = response.json()
        message = data.get("message") or data["detail"]
        assert isinstance(message, str) and message
    else:
        assert "Something is wrong" in response.text


def test_malformed_json_body_is_refused(client: TestClient) -> None:
    headers = {"X-CSRF-Token": _token(client), "Content-Type": "application/json"}
    response = client.post("/api/materialize", content=b"{not json", headers=headers)
    assert response.status_code == 422
    assert response.json()["message"]


def test_writes_need_the_token_and_the_own_origin(client: TestClient) -> None:
    body = {"asset": "clean_sales", "partition": "2026-04-01"}
    refused = client.post("/api/materialize", json=body)
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    wrong = client.post("/api/materialize", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    token = _token(client)
    foreign = client.post(
        "/api/backfill",
        json={"asset": "clean_sales", "from": "2026-04-01", "to": "2026-04-02"},
        headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    assert "evil.example" in foreign.json()["detail"]


def test_materialize_and_backfill_run_in_the_background(client: TestClient) -> None:
    headers = {"X-CSRF-Token": _token(client), "Origin": "http://testserver"}
    started = client.post(
        "/api/materialize",
        json={"asset": "sales_report", "partition": "2026-04-03"},
        headers=headers,
    )
    assert started.status_code == 202
    run = _wait(client, started.json()["run_id"])
    assert run["status"] == "succeeded"
    assert [(s["asset"], s["status"]) for s in run["steps"]] == [("sales_report", "succeeded")]
    detail = client.get("/api/assets/sales_report/partitions/2026-04-03").json()
    assert detail["status"] == "fresh"

    started = client.post(
        "/api/backfill",
        json={"asset": "clean_sales", "from": "2026-04-04", "to": "2026-04-05", "force": False},
        headers=headers,
    )
    assert started.status_code == 202
    run = _wait(client, started.json()["run_id"])
    assert run["status"] == "succeeded"
    assert len(run["steps"]) == 4
    runs_page = client.get("/runs").text
    assert f'data-run="{run["run_id"]}"' in runs_page


# -- credentials --------------------------------------------------------------------------

PASSWORD = "pw-Sup3rSecret-9"
SECRET = "storage-Secr3t-Key-7"


def test_no_credential_appears_in_any_page_or_response(
    tmp_path: Path, make_postgres_database: Callable[[], str]
) -> None:
    url = make_postgres_database()
    with_password = re.sub(r"://([^:@/]+)@", rf"://\1:{PASSWORD}@", url, count=1)
    assert PASSWORD in with_password
    project_dir = _copy_sales(tmp_path / "sales")
    (project_dir / "partita.toml").write_text(
        'definitions = "assets.py"\n'
        f'catalog = "{with_password}"\n'
        f'[storage_options]\nauto_mkdir = true\nsecret = "{SECRET}"\n'
    )
    with Project(project_dir) as project:
        run_id = project.backfill("clean_sales", "2026-04-01", "2026-04-01").run_id
        with TestClient(create_app(project)) as test_client:
            token = _token(test_client)
            started = test_client.post(
                "/api/materialize",
                json={"asset": "sales_report", "partition": "2026-04-01"},
                headers={"X-CSRF-Token": token},
            ).json()["run_id"]
            _wait(test_client, started)
            paths = [
                "/",
                "/assets/clean_sales",
                "/assets/sales_summary",
                "/runs",
                f"/runs/{run_id}",
                f"/runs/{started}",
                f"/runs/{run_id}/logs",
                "/api/assets",
                "/api/assets/clean_sales/partitions",
                "/api/assets/clean_sales/partitions/2026-04-01",
                "/api/assets/sales_report/partitions/2026-04-01",
                "/api/runs",
                f"/api/runs/{run_id}",
                f"/api/runs/{started}/logs",
                "/api/openapi.json",
                "/api/assets/nope/partitions",
                "/metrics",
            ]
            for path in paths:
                text = test_client.get(path).text
                assert PASSWORD not in text, path
                assert SECRET not in text, path


# -- the command -------------------------------------------------------------------------


def test_partita_ui_prints_its_url_and_serves_pages(
    tmp_path: Path, start_process: Callable[..., subprocess.Popen[str]]
) -> None:
    project_dir = _copy_sales(tmp_path / "sales")
    server = start_process(project_dir, "ui", "--port", "0")
    assert server.stdout is not None
    line = server.stdout.readline()
    found = re.fullmatch(r"partita ui: (http://127\.0\.0\.1:(\d+)/)\n", line)
    assert found, (line, server.poll())
    assert int(found.group(2)) > 0
    with urllib.request.urlopen(found.group(1), timeout=30) as response:
        page = response.read().decode()
    assert response.status == 200
    assert 'data-testid="asset-graph"' in page
    server.terminate()
    server.wait(timeout=30)


def test_partita_ui_refuses_a_taken_port(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    import socket

    project_dir = _copy_sales(tmp_path / "sales")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(project_dir, "ui", "--port", str(port))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_asset_page_shows_rows_bytes_and_durations_of_its_newest_partitions(
    client: TestClient,
) -> None:
    page = client.get("/assets/raw_sales").text

    table = page.split('data-testid="partition-metrics"', 1)[1].split("</table>", 1)[0]
    assert "2026-04-0" in table and " s</td>" in table
