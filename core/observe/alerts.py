"""Alerts: failure and recovery events, sent to webhooks, shell commands or Python hooks.

A run raises an event when a step fails after its retries (``failure``, one per step,
not per attempt) and when a step succeeds on a partition whose last attempt had failed
(``recovery``). :class:`Alerter` watches the steps of a run as they end and delivers
the events from a background thread, so a slow destination never slows the steps; a
delivery is retried with exponential backoff, and one that still fails is logged as a
warning: it never fails the run. Webhook URLs often embed a token, so they are only
ever shown as ``scheme://host``.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from partita.core.config import AlertSettings
from partita.core.observe.delivery import Courier, DeliveryError, post_json, watching
from partita.core.run.outcomes import StepOutcome
from partita.storage.statuses import StepStatus

FAILURE = "failure"
RECOVERY = "recovery"
ENV_PREFIX = "PARTITA_ALERT_"

logger = logging.getLogger("partita.alerts")

Event = dict[str, Any]


def alert_event(outcome: StepOutcome, *, project: str, at: dt.datetime) -> Event | None:
    """The event a step's outcome raises (``failure`` or ``recovery``), if any."""
    if outcome.status == StepStatus.FAILED:
        kind = FAILURE
    elif outcome.status == StepStatus.SUCCEEDED and outcome.recovered:
        kind = RECOVERY
    else:
        return None
    event: Event = {
        "event": kind,
        "asset": outcome.asset,
        "partition": outcome.partition,
        "run_id": outcome.run_id,
        "attempts": outcome.attempts,
    }
    if kind == FAILURE:
        event["error"] = outcome.detail
    event["at"] = at.astimezone(dt.UTC).isoformat()
    event["project"] = project
    return event


class Alerter:
    """Delivers the alert events of runs to the configured destinations.

    Args:
        alerts: the ``[[alerts]]`` settings.
        root: the project directory (commands run there; Python hooks import from there).
        clock: the time events are stamped with.
        sleep: how to wait between delivery tries (injectable so tests never sleep).
    """

    def __init__(
        self,
        alerts: Sequence[AlertSettings],
        root: Path,
        *,
        clock: Callable[[], dt.datetime],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._alerts = tuple(alerts)
        self._root = root
        self._clock = clock
        self._courier = Courier("partita-alerts", sleep=sleep)
        self._hooks: dict[str, Callable[[Event], Any]] = {}
        self.undelivered: list[tuple[str, Event, str]] = []

    def wrap(self, on_step: Callable[[StepOutcome], None] | None) -> Callable[[StepOutcome], None]:
        """An ``on_step`` hook that watches each outcome, then calls ``on_step``."""
        return watching(self.observe, on_step)

    def observe(self, outcome: StepOutcome) -> None:
        """Queue the event ``outcome`` raises, if any destination wants it."""
        event = alert_event(outcome, project=self._root.name, at=self._clock())
        if event is None or not any(event["event"] in a.on for a in self._alerts):
            return
        for alert in self._alerts:
            if event["event"] in alert.on:
                self._courier.send(
                    functools.partial(self.deliver_once, alert, event),
                    alert.retries + 1,
                    functools.partial(self._give_up, alert, event),
                )

    def close(self) -> None:
        """Deliver every queued event (with its retries), then stop the thread."""
        self._courier.close()

    def _give_up(self, alert: AlertSettings, event: Event, reason: str, tries: int) -> None:
        self.undelivered.append((alert.destination, event, reason))
        logger.warning(
            "alert %s of %s [%s] not delivered to %s after %d tries: %s",
            event["event"],
            event["asset"],
            event["partition"],
            alert.destination,
            tries,
            reason,
        )

    def deliver_once(self, alert: AlertSettings, event: Event) -> None:
        """Try once to deliver ``event`` to ``alert``'s destination.

        Raises:
            DeliveryError: the destination refused it, failed or took too long.
        """
        if alert.webhook is not None:
            post_json(alert.webhook, event, alert.timeout)
        elif alert.command is not None:
            _run_command(alert.command, event, alert.timeout, self._root)
        elif alert.python is not None:
            try:
                self._hook(alert.python)(dict(event))
            except DeliveryError:
                raise
            except Exception as exc:
                raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc

    def _hook(self, spec: str) -> Callable[[Event], Any]:
        if spec not in self._hooks:
            module_name, _, name = spec.partition(":")
            if str(self._root) not in sys.path:
                sys.path.insert(0, str(self._root))
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:
                raise DeliveryError(f"cannot import {module_name}: {exc}") from exc
            function = getattr(module, name, None)
            if not callable(function):
                raise DeliveryError(f"{module_name} has no function {name}")
            self._hooks[spec] = function
        return self._hooks[spec]


def event_environment(event: Mapping[str, Any]) -> dict[str, str]:
    """The ``PARTITA_ALERT_*`` variables a command alert gets (``PARTITA_ALERT_ASSET``...)."""
    return {
        f"{ENV_PREFIX}{name.upper()}": "" if value is None else str(value)
        for name, value in event.items()
    }


def _run_command(command: str, event: Event, timeout: float, cwd: Path) -> None:
    try:
        finished = subprocess.run(
            command,
            shell=True,
            input=json.dumps(event),
            capture_output=True,
            text=True,
            cwd=cwd,
            env={**os.environ, **event_environment(event)},
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"timed out after {timeout:g} s") from None
    except OSError as exc:
        raise DeliveryError(f"cannot run it: {exc.strerror}") from None
    if finished.returncode != 0:
        lines = finished.stderr.strip().splitlines()
        detail = f": {lines[-1]}" if lines else ""
        raise DeliveryError(f"exited with status {finished.returncode}{detail}")


__all__ = ["FAILURE", "RECOVERY", "Alerter", "DeliveryError", "alert_event", "event_environment"]
