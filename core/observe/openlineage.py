"""OpenLineage: a RunEvent when each step starts running, and when it completes or fails.

Each step is an OpenLineage run of the job named by its asset; its run id is a UUID
derived from the partita run, the asset and the partition, so the START and the
COMPLETE (or FAIL) of one step share it, and sending the same step again is recognized.
Inputs are the upstream partitions the step reads, outputs the partition it writes
(``asset/partition``), with row and byte counts once known. Events are sent to an HTTP
endpoint or appended to a file, one JSON object a line, from a background thread with
retries (:mod:`partita.core.observe.delivery`): a lineage server that is down never fails a run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from partita.assets import AssetGraph
from partita.core.config import OpenLineageSettings
from partita.core.observe.delivery import Courier, DeliveryError, post_json, watching
from partita.core.plan.planner import Plan
from partita.core.plan.status import StatusResolver
from partita.core.run.outcomes import StepOutcome
from partita.storage.statuses import StepStatus

START = "START"
COMPLETE = "COMPLETE"
FAIL = "FAIL"
_ENDED = {StepStatus.SUCCEEDED: COMPLETE, StepStatus.FAILED: FAIL}  # a skipped step sends none
PRODUCER = "https://github.com/partita-dev/partita"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"
STATISTICS_SCHEMA_URL = (
    "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json"
    "#/$defs/OutputStatisticsOutputDatasetFacet"
)
_RUN_IDS = uuid.UUID("6d1c4f3e-2b8a-5c1e-9f0d-7a3b5e8c2d41")  # the namespace of step run ids

logger = logging.getLogger("partita.openlineage")

Event = dict[str, Any]


def step_run_id(namespace: str, run_id: str, asset: str, partition: str) -> str:
    """The OpenLineage run id of one step: the same for the same step, every time."""
    return str(uuid.uuid5(_RUN_IDS, f"{namespace}\n{run_id}\n{asset}\n{partition}"))


def dataset_name(asset: str, partition: str) -> str:
    """A partition as an OpenLineage dataset name: ``asset/partition`` (``asset`` if it has
    none)."""
    return f"{asset}/{partition}" if partition else asset


def run_event(
    kind: str,
    outcome: StepOutcome,
    *,
    namespace: str,
    inputs: list[tuple[str, str]],
    at: dt.datetime,
) -> Event:
    """The RunEvent of a step's ``START``, ``COMPLETE`` or ``FAIL``."""
    output: dict[str, Any] = {
        "namespace": namespace,
        "name": dataset_name(outcome.asset, outcome.partition),
    }
    if kind == COMPLETE and (outcome.rows is not None or outcome.bytes is not None):
        statistics: dict[str, Any] = {"_producer": PRODUCER, "_schemaURL": STATISTICS_SCHEMA_URL}
        if outcome.rows is not None:
            statistics["rowCount"] = outcome.rows
        if outcome.bytes is not None:
            statistics["size"] = outcome.bytes
        output["outputFacets"] = {"outputStatistics": statistics}
    run: dict[str, Any] = {
        "runId": step_run_id(namespace, outcome.run_id or "", outcome.asset, outcome.partition),
        "facets": {},
    }
    if kind == FAIL and outcome.detail:
        run["facets"]["errorMessage"] = {
            "_producer": PRODUCER,
            "_schemaURL": (
                "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json"
                "#/$defs/ErrorMessageRunFacet"
            ),
            "message": outcome.detail,
            "programmingLanguage": "python",
        }
    return {
        "eventType": kind,
        "eventTime": at.astimezone(dt.UTC).isoformat(),
        "run": run,
        "job": {"namespace": namespace, "name": outcome.asset},
        "inputs": [{"namespace": namespace, "name": dataset_name(a, p)} for a, p in inputs],
        "outputs": [output],
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
    }


class LineageEmitter:
    """Sends the OpenLineage events of the steps of one run.

    Args:
        settings: the ``[openlineage]`` settings.
        root: the project directory (the default namespace is its name; a relative
            ``file`` is under it).
        graph: the asset graph, to name each step's inputs.
        plan: the plan being applied (its time and dynamic keys map the inputs).
        clock: the time events are stamped with.
        sleep: how to wait between delivery tries (injectable so tests never sleep).
    """

    def __init__(
        self,
        settings: OpenLineageSettings,
        root: Path,
        graph: AssetGraph,
        plan: Plan,
        *,
        clock: Callable[[], dt.datetime],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._namespace = settings.namespace or root.name
        self._file = root / settings.file if settings.file else None
        self._graph = graph
        self._mapper = StatusResolver(graph, {}, plan.now, plan.dynamic)
        self._clock = clock
        self._courier = Courier("partita-openlineage", sleep=sleep)
        self._started: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._lock = threading.Lock()
        self.undelivered: list[tuple[Event, str]] = []

    def wrap(self, on_step: Callable[[StepOutcome], None] | None) -> Callable[[StepOutcome], None]:
        """An ``on_step`` hook that sends a step's end event, then calls ``on_step``."""
        return watching(self.observe, on_step)

    def observe(self, outcome: StepOutcome) -> None:
        """Send the event of a step that started (``running``) or ended, if it has one."""
        step = (outcome.asset, outcome.partition)
        if outcome.status == StepStatus.RUNNING:
            inputs = self._inputs(outcome.asset, outcome.partition)
            with self._lock:
                self._started[step] = inputs
            self._send(run_event(START, outcome, **self._common(inputs)))
            return
        with self._lock:
            started = self._started.pop(step, None)
        if started is None:  # skipped: it never started
            return
        kind = _ENDED.get(outcome.status, "")
        if kind:
            self._send(run_event(kind, outcome, **self._common(started)))

    def close(self) -> None:
        """Send every queued event (with its retries), then stop the thread."""
        self._courier.close()

    def _common(self, inputs: list[tuple[str, str]]) -> dict[str, Any]:
        return {"namespace": self._namespace, "inputs": inputs, "at": self._clock()}

    def _inputs(self, asset: str, partition: str) -> list[tuple[str, str]]:
        return [
            (edge.upstream, key)
            for edge in self._graph.upstream(asset)
            for key in self._mapper.upstream_keys(edge, partition)
        ]

    def _send(self, event: Event) -> None:
        self._courier.send(
            lambda: self.deliver_once(event),
            self._settings.retries + 1,
            lambda reason, tries: self._give_up(event, reason, tries),
        )

    def deliver_once(self, event: Event) -> None:
        """Try once to deliver ``event``.

        Raises:
            DeliveryError: the endpoint refused it, failed or took too long, or the
                file cannot be written.
        """
        if self._settings.url is not None:
            post_json(self._settings.url, event, self._settings.timeout)
            return
        assert self._file is not None
        try:
            with self._file.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(event) + "\n")
        except OSError as exc:
            raise DeliveryError(f"cannot write {self._file}: {exc.strerror}") from None

    def _give_up(self, event: Event, reason: str, tries: int) -> None:
        self.undelivered.append((event, reason))
        logger.warning(
            "OpenLineage %s event of %s not delivered to %s after %d tries: %s",
            event["eventType"],
            event["outputs"][0]["name"],
            self._settings.destination,
            tries,
            reason,
        )


__all__ = [
    "COMPLETE",
    "FAIL",
    "START",
    "LineageEmitter",
    "dataset_name",
    "run_event",
    "step_run_id",
]
