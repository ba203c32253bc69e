"""Alerts: failure and recovery events delivered to a local webhook, a shell command and
a Python hook, through ``partita.Project`` (the CLI in tests/e2e/test_pools_alerts_cli.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from partita.core.observe.alerts import alert_event, event_environment
from partita.core.run.options import RunOptions
from partita.core.run.outcomes import StepOutcome
from partita.errors import ConfigError
from tests.core._webhook import SECRET_PATH, WebhookServer
from tests.projects import ProjectFactory

DAY = "2026-04-08"
EVENT_KEYS = {"event", "asset", "partition", "run_id", "attempts", "at", "project"}

# Fails while a file named "broken" is in the project directory.
SOURCE = """\
from pathlib import Path

import partita as pt

daily = pt.DailyPartitions(start="2026-04-01", timezone="UTC")
BROKEN = Path(__file__).parent / "broken"


@pt.asset(partitions=daily, retries=RETRIES)
def sales(ctx: pt.Context) -> dict:
    if BROKEN.exists():
        raise RuntimeError("the sales API answered 503")
    return {"day": ctx.partition_key}
"""


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


def sales(retries: int = 2) -> str:
    """The definitions: the asset ``sales`` with ``retries``."""
    return SOURCE.replace("RETRIES", str(retries))


def webhook_alert(server: WebhookServer, extra: str = "") -> str:
    return f'[[alerts]]\nwebhook = "{server.url}"\n{extra}'


def test_one_failure_alert_per_failed_step_after_retries_and_a_recovery_when_it_succeeds(
    make_project: ProjectFactory, webhook: WebhookServer
) -> None:
    project = make_project(sales(retries=2), webhook_alert(webhook))
    (project.root / "broken").touch()

    failed = project.materialize("sales", DAY)
    assert not failed.ok and failed.count("failed") == 1
    [event] = webhook.events()  # one event, not one per attempt (3 attempts)
    assert set(event) == EVENT_KEYS | {"error"}
    assert event == {
        "event": "failure",
        "asset": "sales",
        "partition": DAY,
        "run_id": failed.run_id,
        "attempts": 3,
        "error": "RuntimeError: the sales API answered 503",
        "at": "2026-05-01T00:00:00+00:00",
        "project": project.root.name,
    }
    assert webhook.paths == [SECRET_PATH]

    (project.root / "broken").unlink()
    fixed = project.materialize("sales", DAY)
    assert fixed.ok
    assert len(webhook.events()) == 2
    recovery = webhook.events("recovery")
    assert recovery == [
        {
            "event": "recovery",
            "asset": "sales",
            "partition": DAY,
            "run_id": fixed.run_id,
            "attempts": 1,
            "at": "2026-05-01T00:00:00+00:00",
            "project": project.root.name,
        }
    ]

    assert project.materialize("sales", "2026-04-09").ok  # never failed: no event
    assert project.materialize("sales", DAY, force=True).ok  # recovered already: no event
    assert len(webhook.events()) == 2


def test_a_webhook_that_fails_twice_then_answers_gets_the_event_once(
    make_project: ProjectFactory, webhook: WebhookServer
) -> None:
    project = make_project(sales(retries=0), webhook_alert(webhook, "retries = 3\n"))
    (project.root / "broken").touch()
    webhook.statuses = [500, 500]
    project.materialize("sales", DAY)
    assert webhook.requests == 3
    assert [e["event"] for e in webhook.events()] == ["failure"]
    assert project._sleep == [1.0, 2.0]  # type: ignore[comparison-overlap] - backoff


def test_a_delivery_that_keeps_failing_is_a_warning_without_the_webhook_path(
    make_project: ProjectFactory, webhook: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(sales(retries=0), webhook_alert(webhook, "retries = 1\n"))
    (project.root / "broken").touch()
    webhook.statuses = [503, 503]
    with caplog.at_level(logging.WARNING, logger="partita.alerts"):
        result = project.materialize("sales", DAY)
    assert result.count("failed") == 1  # the run's own outcome, not the alert's
    assert webhook.requests == 2 and webhook.events() == []
    [record] = [r for r in caplog.records if r.name == "partita.alerts"]
    message = record.getMessage()
    assert message == (
        f"alert failure of sales [{DAY}] not delivered to webhook {webhook.origin} "
        "after 2 tries: HTTP 503"
    )
    assert SECRET_PATH not in caplog.text


def test_a_slow_webhook_never_holds_the_steps_back(
    make_project: ProjectFactory, webhook: WebhookServer
) -> None:
    # The delivery waits longer than the receiver, so a receiver that waits in vain
    # answers (False) instead of the delivery giving up first.
    project = make_project(sales(retries=0), webhook_alert(webhook, 'timeout = "120s"\n'))
    (project.root / "broken").touch()
    run_went_on = threading.Event()
    answered_after_the_run_went_on: list[bool] = []
    # The receiver answers only once the caller's on_step has seen the step: were the
    # event delivered in the steps' thread, this would wait out the deadline instead
    # (one only that reaches: the step's outcome comes at once).
    webhook.before_answer = lambda _body: answered_after_the_run_went_on.append(
        run_went_on.wait(timeout=60)
    )
    project.materialize(
        "sales", DAY, options=RunOptions(on_step=lambda _outcome: run_went_on.set())
    )
    assert answered_after_the_run_went_on == [True]
    assert len(webhook.events()) == 1  # delivered before materialize returned


def test_a_shell_command_alert_gets_the_event_on_stdin_and_in_the_environment(
    make_project: ProjectFactory,
) -> None:
    command = 'cat > event.json; echo "$PARTITA_ALERT_EVENT $PARTITA_ALERT_ATTEMPTS" > env.txt'
    project = make_project(sales(retries=1), f"[[alerts]]\ncommand = '{command}'\n")
    (project.root / "broken").touch()
    result = project.materialize("sales", DAY)
    event = json.loads((project.root / "event.json").read_text())
    assert event["event"] == "failure" and event["run_id"] == result.run_id
    assert event["error"] == "RuntimeError: the sales API answered 503"
    assert (project.root / "env.txt").read_text() == "failure 2\n"


def test_a_failing_command_alert_is_retried_then_logged(
    make_project: ProjectFactory, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(
        sales(retries=0),
        "[[alerts]]\ncommand = 'echo tries >> tries.txt; echo no route >&2; exit 3'\nretries = 2\n",
    )
    (project.root / "broken").touch()
    with caplog.at_level(logging.WARNING, logger="partita.alerts"):
        project.materialize("sales", DAY)
    assert (project.root / "tries.txt").read_text().count("tries") == 3
    assert "exited with status 3: no route" in caplog.text


def test_a_python_hook_alert_is_called_with_the_event(make_project: ProjectFactory) -> None:
    hooks = f"hooks_{uuid.uuid4().hex}"
    project = make_project(
        sales(),
        f'[[alerts]]\npython = "{hooks}:notify"\non = ["recovery"]\n',
        files={f"{hooks}.py": "RECEIVED = []\n\ndef notify(event):\n    RECEIVED.append(event)\n"},
    )
    (project.root / "broken").touch()
    project.materialize("sales", DAY)
    (project.root / "broken").unlink()
    fixed = project.materialize("sales", DAY)
    received = sys.modules[hooks].RECEIVED
    assert [(e["event"], e["run_id"]) for e in received] == [("recovery", fixed.run_id)]


def test_alerts_go_only_where_their_events_are_wanted(
    make_project: ProjectFactory, webhook: WebhookServer
) -> None:
    project = make_project(sales(retries=0), webhook_alert(webhook, 'on = ["recovery"]\n'))
    (project.root / "broken").touch()
    project.materialize("sales", DAY)
    assert webhook.requests == 0


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        (
            '[[alerts]]\ncommand = "true"\n\n[[alerts]]\nwebhook = "URL"\ncommand = "true"\n',
            "alerts[1]: give exactly one of webhook, command or python",
        ),
        ("[[alerts]]\non = ['failure']\n", "alerts[0]: give exactly one of webhook,"),
        ('[[alerts]]\nwebhook = "ftp://h/SECRET"\n', "alerts[0].webhook: give an http://"),
        ('[[alerts]]\npython = "hooks"\n', "alerts[0].python: 'hooks': write module:function"),
        ('[[alerts]]\ncommand = "true"\ntimeout = "soon"\n', "alerts[0].timeout: write a"),
        ('[[alerts]]\ncommand = "true"\ntimeout = "0s"\n', "alerts[0].timeout: it must be"),
        ('[[alerts]]\ncommand = "true"\non = ["success"]\n', "alerts[0].on[0]: Input"),
        ('[[alerts]]\ncommand = "true"\nretries = -1\n', "alerts[0].retries: Input"),
        ('[[alerts]]\ncommand = "true"\nurl = "x"\n', "unknown setting 'alerts[0].url'"),
    ],
)
def test_bad_alert_settings_name_the_entry_and_never_show_the_webhook(
    make_project: ProjectFactory, webhook: WebhookServer, alerts: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_project(sales(), alerts.replace("URL", webhook.url))
    message = str(caught.value)
    assert expected in message, message
    assert "SECRET" not in message and SECRET_PATH not in message
    assert caught.value.__cause__ is None  # the validation error holds the values


def test_settings_show_a_webhook_only_as_scheme_and_host(
    make_project: ProjectFactory, webhook: WebhookServer
) -> None:
    project = make_project(sales(), webhook_alert(webhook))
    [alert] = project.settings.alerts
    assert alert.timeout == 10.0 and alert.retries == 3 and alert.on == ("failure", "recovery")
    assert alert.destination == f"webhook {webhook.origin}"
    assert SECRET_PATH not in repr(project.settings)
    assert webhook.origin in repr(project.settings)


def test_events_of_outcomes() -> None:
    at = dt.datetime(2026, 5, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    failed = StepOutcome("a", "k", "failed", "boom", 3, run_id="r1")
    event: dict[str, Any] | None = alert_event(failed, project="p", at=at)
    assert event is not None and event["at"] == "2026-05-01T00:00:00+00:00"
    assert event_environment(event)["PARTITA_ALERT_ERROR"] == "boom"
    assert event_environment(event)["PARTITA_ALERT_RUN_ID"] == "r1"
    assert alert_event(StepOutcome("a", "k", "succeeded", run_id="r"), project="p", at=at) is None
    assert alert_event(StepOutcome("a", "k", "skipped", "fresh"), project="p", at=at) is None
