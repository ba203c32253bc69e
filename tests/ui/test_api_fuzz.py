"""Fuzz the JSON API from its own OpenAPI description: no request gets a 5xx answer.

Schemathesis generates requests for every operation of ``/api/openapi.json``, valid ones
(positive) and invalid ones (negative), against a running ``partita ui`` on the sales
example; POSTs carry the page's CSRF token, so they get past the 403 to the input checks.
Path parameters are also pinned to real asset keys and run ids, so the checks behind a
known asset and run are fuzzed too, not only the 404 of an unknown one. A second test
sends requests naming real assets with partition keys good, bad and at the calendar's
edges (``9999-12-31``), which the schema's plain strings almost never produce.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import _require
from tests.ui.conftest import BUILT, UiServer

# Requests per operation, mode and pinning (the same on CI and elsewhere: the second test
# needs that many to see a request accepted); the whole test stays well under a minute.
EXAMPLES = 20


@dataclass(frozen=True)
class Failure:
    """A request the server answered with a 5xx (or could not answer)."""

    method: str
    path: str
    status: int | str
    request: str
    answer: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}\n  {self.request}\n  {self.answer}"


@pytest.fixture
def failures(ui_server: UiServer) -> Iterator[list[Failure]]:
    found: list[Failure] = []
    yield found
    # Background runs a fuzzed POST may have started end before the server stops.
    for run in ui_server.get("/api/runs", limit=1000)["runs"]:
        if run["status"] == "running":
            ui_server.wait_for_run(run["run_id"])


def fuzz(strategy: Any, call: dict[str, Any], failures: list[Failure]) -> None:
    """Send ``EXAMPLES`` generated requests; record every 5xx (no shrinking: keep going)."""
    hypothesis = _require("hypothesis")
    settings = hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests on every run: a failure can be replayed
        suppress_health_check=list(hypothesis.HealthCheck),
    )

    @settings
    @hypothesis.given(case=strategy)
    def send(case: Any) -> None:
        request = case.as_curl_command(headers=call["headers"], base_url=call["base_url"])
        try:
            response = case.call(**call)
        except Exception as exc:  # a dropped connection is as bad as a 500
            failures.append(Failure(case.method, case.path, type(exc).__name__, request, str(exc)))
            return
        if response.status_code >= 500:
            answer = response.text[:300]
            failures.append(Failure(case.method, case.path, response.status_code, request, answer))

    # Nothing to make invalid (an operation without parameters, in negative mode): fine.
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        send()


def test_no_request_gets_a_server_error(ui_server: UiServer, failures: list[Failure]) -> None:
    schemathesis = _require("schemathesis")
    schema = schemathesis.openapi.from_url(ui_server.url + "api/openapi.json")
    token = ui_server.csrf_token()
    call = {"base_url": ui_server.origin, "headers": {"X-CSRF-Token": token}}
    assets = [a["key"] for a in ui_server.get("/api/assets")["assets"]]
    runs = [r["run_id"] for r in ui_server.get("/api/runs")["runs"]]
    assert "raw_sales" in assets and runs, "the fixture's backfill should be there"
    # Real names, so the checks behind a known asset, partition and run are reached too.
    pins: list[dict[str, str]] = [
        {"key": "raw_sales"},
        {"key": "sales_summary"},
        {"key": "raw_sales", "partition": BUILT[0]},
        {"key": "sales_summary", "partition": "-"},
        {"run_id": runs[0]},
        {"run_id": runs[0], "key": "raw_sales"},
    ]
    # Generated values of the page's token and of Origin would only ever meet the 403.
    own = {"x-csrf-token": token, "origin": ui_server.origin}

    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {(op.method.upper(), op.path) for op in operations}
    assert ("GET", "/api/assets") in paths and ("POST", "/api/materialize") in paths, paths
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        headers = {h.name: own[h.name.lower()] for h in operation.headers if h.name.lower() in own}
        variants = [{}] + [pin for pin in pins if pin.keys() <= names]
        for pinned in variants:
            for mode in modes:
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=pinned, headers=headers
                )
                fuzz(strategy, call, failures)

    distinct = {(f.method, f.path, f.status): f for f in failures}
    assert not distinct, (
        f"{len(failures)} requests got a server error; one of each kind:\n"
        + "\n".join(map(str, distinct.values()))
        + f"\nserver log:\n{ui_server.log.read_text()[-3000:]}"
    )


def test_real_assets_with_odd_keys_never_fail_the_server(
    ui_server: UiServer, failures: list[Failure]
) -> None:
    """Requests naming real assets, with partition keys good, bad and at the calendar's
    edges: 2xx or 4xx, never 5xx."""
    hypothesis = _require("hypothesis")
    httpx = _require("httpx")
    st = hypothesis.strategies
    headers = {"X-CSRF-Token": ui_server.csrf_token(), "Origin": ui_server.origin}
    assets = st.sampled_from([a["key"] for a in ui_server.get("/api/assets")["assets"]])
    odd = [*BUILT, "2026-4-3", "2026-02-30", "0001-01-01", "9999-12-31", "-", "", " ", "%"]
    keys = st.sampled_from(odd) | st.text(max_size=12)
    requests = st.one_of(
        st.builds(
            lambda a, k: ("GET", f"/api/assets/{a}/partitions/{quote(k, safe='')}", {}, None),
            assets,
            keys,
        ),
        st.builds(
            lambda a, f, t: ("GET", f"/api/assets/{a}/partitions", {"from": f, "to": t}, None),
            assets,
            keys,
            keys,
        ),
        st.builds(
            lambda a, k: ("POST", "/api/materialize", {}, {"asset": a, "partition": k}),
            assets,
            st.none() | keys,
        ),
        st.builds(
            lambda a, f, t: ("POST", "/api/backfill", {}, {"asset": a, "from": f, "to": t}),
            assets,
            keys,
            keys,
        ),
    )
    answers: dict[int, int] = {}

    @hypothesis.settings(
        max_examples=EXAMPLES * 4,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(request=requests)
    def send(request: tuple[str, str, dict[str, str], dict[str, Any] | None]) -> None:
        method, path, params, body = request
        url = ui_server.origin + path
        response = httpx.request(method, url, params=params, json=body, headers=headers, timeout=60)
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            sent = f"{method} {path} {params or ''} {json.dumps(body) if body else ''}"
            failures.append(Failure(method, path, response.status_code, sent, response.text[:300]))

    send()
    assert not failures, "\n".join(map(str, failures))
    assert answers.get(200) and answers.get(202), f"nothing was answered or accepted: {answers}"
    assert any(400 <= code < 500 for code in answers), f"nothing was refused: {answers}"
