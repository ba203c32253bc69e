"""The daemon: keeps assets fresh by evaluating every source of automation on each tick.

One daemon is active per project: it holds the named lease ``daemon``, renewed from a
heartbeat thread. Another daemon on the same project is a standby: it retries until the
active one's lease expires, then takes over. A tick reads the catalog once, asks every
source (schedules, eager assets, sensors) for a decision, records the tick, runs the
requests (the non-forced ones in one run, the forced ones in another), stores the
sources' cursors and closes the tick with its runs and status.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from partita.core.automation.decisions import Decision, Evaluator, Request, TickContext
from partita.core.automation.schedules import ScheduleEvaluator
from partita.core.plan.planner import Target, plan
from partita.core.plan.status import StatusResolver
from partita.core.run.heartbeat import Heartbeat
from partita.core.run.options import RunOptions
from partita.core.run.outcomes import RunResult
from partita.core.run.recovery import process_owner
from partita.errors import PartitaError
from partita.storage.catalog import ticks as tick_log
from partita.storage.interfaces import NamedLeases
from partita.storage.statuses import RunStatus, TickStatus

if TYPE_CHECKING:
    from partita.core.project import Project

LEASE = "daemon"


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one tick did.

    Attributes:
        tick_id: its row in the ``ticks`` table.
        status: ``succeeded``, ``failed`` (a source or a run failed) or ``interrupted``.
        decisions: what each source decided.
        runs: the runs it started.
        errors: per source, the error of a source that raised.
    """

    tick_id: int
    status: TickStatus
    decisions: tuple[Decision, ...]
    runs: tuple[RunResult, ...]
    errors: dict[str, str]

    @property
    def requested(self) -> int:
        """How many partitions were requested."""
        return sum(len(r.partitions) for d in self.decisions for r in d.requests)


class _Halt(threading.Event):
    """Set by itself (the lease was lost) or by any of its parents (a stop signal)."""

    def __init__(self, *parents: threading.Event) -> None:
        super().__init__()
        self._parents = parents

    def is_set(self) -> bool:
        return super().is_set() or any(parent.is_set() for parent in self._parents)


def daemon_id() -> str:
    """A new daemon identity: ``<host>:<pid>:<random>`` (the lease rule checks the pid)."""
    return process_owner()


class Daemon:
    """Runs ticks while it is the project's active daemon.

    Args:
        project: the project to keep fresh.
        clock: the daemon's clock (default: the project's); tests simulate days with it.
        sleep: how to wait between ticks (default: wait on the stop event, so a stop
            wakes it); an injected one lets tests run days in milliseconds.
        interval: seconds between ticks.
        evaluators: the sources to evaluate (default: the project's schedules, eager
            assets and sensors).
        echo: called with one line per tick and with the standby message.
    """

    def __init__(
        self,
        project: Project,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
        interval: float = 30.0,
        evaluators: Sequence[Evaluator] | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.project = project
        self.id = daemon_id()
        self.interval = interval
        self._clock = clock or project.now
        self._sleep = sleep
        self._evaluators = list(evaluators) if evaluators is not None else None
        self._echo = echo or (lambda _line: None)
        self._leases: NamedLeases = project.catalog.named_leases
        self._token: int | None = None
        self._lost = threading.Event()
        self._heartbeat: Heartbeat | None = None

    @property
    def evaluators(self) -> list[Evaluator]:
        """The sources evaluated on each tick."""
        if self._evaluators is None:
            self._evaluators = default_evaluators(self.project)
        return self._evaluators

    @property
    def leading(self) -> bool:
        """Whether this daemon holds the ``daemon`` lease (as far as it knows)."""
        return self._token is not None and not self._lost.is_set()

    # -- leadership -----------------------------------------------------------------

    def lead(self) -> bool:
        """Become the active daemon if no other live one is; ``True`` when leading."""
        if self.leading:
            return True
        self.step_down()
        token = self._leases.acquire(LEASE, self.id)
        if token is None:
            return False
        self._token = token
        self._lost.clear()
        self._heartbeat = Heartbeat(
            lambda: self._renew(token), self._leases.seconds / 3, "partita-daemon-lease"
        )
        return True

    def active(self) -> str | None:
        """The id of the active daemon, if any."""
        held = self._leases.holder(LEASE)
        return None if held is None else held[0]

    def step_down(self) -> None:
        """Stop renewing the lease and give it back (if still held)."""
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        if self._token is not None:
            token, self._token = self._token, None
            with contextlib.suppress(PartitaError):  # an expired lease frees itself
                self._leases.release(LEASE, self.id, token)

    def _renew(self, token: int) -> bool:
        """One beat of the heartbeat: renew the lease; ``False`` once it is lost."""
        if self._leases.renew(LEASE, self.id, token):
            return True
        self._lost.set()
        return False

    # -- the loop ---------------------------------------------------------------------

    def run(self, once: bool = False, stop: threading.Event | None = None) -> TickResult | None:
        """Tick every ``interval`` while leading (waiting as a standby otherwise) until
        ``stop`` is set; with ``once``, one tick if leading, else return at once.

        Returns:
            The last tick, or ``None`` if this daemon never ticked.
        """
        stop = stop or threading.Event()
        last: TickResult | None = None
        announced = False
        try:
            while not stop.is_set():
                try:
                    leading = self.lead()
                    if leading:
                        last = self.tick(stop)
                except PartitaError as exc:
                    if once:
                        raise
                    # The catalog or the store may be back by the next try.
                    self._echo(f"error: {exc}")
                    self._wait(min(self.interval, self._leases.seconds / 3), stop)
                    continue
                if leading:
                    announced = False
                    if once or stop.is_set():
                        break
                    self._wait(self.interval, stop)
                    continue
                if not announced:
                    self._echo(f"standby: daemon {self.active() or 'another'} is active")
                    announced = True
                if once:
                    break
                self._wait(min(self.interval, self._leases.seconds / 3), stop)
        finally:
            self.step_down()
        return last

    def _wait(self, seconds: float, stop: threading.Event) -> None:
        if self._sleep is None:
            stop.wait(seconds)
        else:
            self._sleep(seconds)

    # -- one tick ---------------------------------------------------------------------

    def tick(self, stop: threading.Event | None = None) -> TickResult:
        """Evaluate every source once, record the tick and run what was requested."""
        halt = _Halt(*(event for event in (stop, self._lost) if event is not None))
        catalog = self.project.catalog
        now = self._clock()
        context = self._context(now)
        decisions, errors = self._evaluate(context)
        entries = [_entry(d, errors.get(d.source)) for d in decisions]
        tick_id = tick_log.record_tick(catalog, self.id, now.timestamp(), entries)
        runs: list[RunResult] = []
        status, error = TickStatus.INTERRUPTED, None  # unless the tick gets through
        try:
            runs = self._execute(decisions, context, halt)
            interrupted = halt.is_set() or any(r.status == RunStatus.INTERRUPTED for r in runs)
            if not interrupted:
                # Interrupted: the cursors stay, so the next tick asks for the same again.
                cursors = {d.source: d.cursor for d in decisions if d.cursor is not None}
                tick_log.set_cursors(catalog, cursors)
            failed = errors or any(r.status == RunStatus.FAILED for r in runs)
            status = (
                TickStatus.INTERRUPTED
                if interrupted
                else TickStatus.FAILED
                if failed
                else TickStatus.SUCCEEDED
            )
        except Exception as exc:
            status, error = TickStatus.FAILED, f"{type(exc).__name__}: {exc}"
            raise
        finally:
            error = error or "; ".join(f"{s}: {e}" for s, e in errors.items()) or None
            tick_log.finish_tick(catalog, tick_id, status, [r.run_id for r in runs], error)
        result = TickResult(tick_id, status, tuple(decisions), tuple(runs), errors)
        self._echo(_line(now, result))
        if self._lost.is_set():
            self.step_down()
        return result

    def _context(self, now: dt.datetime) -> TickContext:
        graph = self.project.graph
        self.project.recover()  # what a writer that died left, before reading states
        dynamic = self.project.dynamic_keys()
        states = self.project.catalog.states(graph.order)
        resolver = StatusResolver(graph, states, now, dynamic)
        leased = tick_log.leased_partitions(self.project.catalog)
        return TickContext(now=now, graph=graph, dynamic=dynamic, resolver=resolver, leased=leased)

    def _evaluate(self, context: TickContext) -> tuple[list[Decision], dict[str, str]]:
        sources = [evaluator.source for evaluator in self.evaluators]
        stored = tick_log.cursors(self.project.catalog, sources)
        decisions: list[Decision] = []
        errors: dict[str, str] = {}
        for evaluator in self.evaluators:
            source = evaluator.source
            try:
                decisions.append(evaluator.evaluate(context, stored.get(source)))
            except Exception as exc:  # one broken source must not stop the others
                errors[source] = f"{type(exc).__name__}: {exc}"
                decisions.append(Decision(source=source, notes=(f"error: {errors[source]}",)))
        return decisions, errors

    def _execute(
        self, decisions: Sequence[Decision], context: TickContext, halt: threading.Event
    ) -> list[RunResult]:
        """The non-forced requests in one run, the forced ones in another."""
        runs: list[RunResult] = []
        requests = [r for d in decisions for r in d.requests]
        for force in (False, True):
            targets = _targets(r for r in requests if r.force == force)
            if not targets or halt.is_set():
                continue
            states = context.resolver.states
            if runs:  # the first run changed the catalog
                closure = context.graph.closure_upstream([t.asset for t in targets])
                states = self.project.catalog.states(closure)
            planned = plan(
                context.graph, states, targets, context.now, force=force, dynamic=context.dynamic
            )
            if planned.empty:
                continue
            # Through the project: its pools limit the run, its alerts report failures.
            runs.append(self.project.apply(planned, RunOptions(command="daemon", stop=halt)))
        return runs


def default_evaluators(project: Project) -> list[Evaluator]:
    """One evaluator per schedule, eager asset and sensor of the project's definitions."""
    from partita.core.automation.eager import eager_evaluators
    from partita.core.automation.sensors import sensor_evaluators

    schedules = project.definitions.schedules
    return [
        *(ScheduleEvaluator(schedules[name]) for name in sorted(schedules)),
        *eager_evaluators(project),
        *sensor_evaluators(project),
    ]


def recent_ticks(project: Project, limit: int = 20) -> list[tick_log.TickRecord]:
    """The newest ticks of the project's daemons, newest first."""
    return tick_log.ticks(project.catalog, limit)


def _targets(requests: Any) -> list[Target]:
    wanted: dict[str, dict[str, None]] = {}
    for request in requests:
        wanted.setdefault(request.asset, {}).update(dict.fromkeys(request.partitions))
    return [Target(asset=asset, partitions=tuple(keys)) for asset, keys in wanted.items()]


def _entry(decision: Decision, error: str | None) -> dict[str, Any]:
    return {
        "source": decision.source,
        "requests": [_request(r) for r in decision.requests],
        "notes": list(decision.notes),
        "error": error,
    }


def _request(request: Request) -> dict[str, Any]:
    return {"asset": request.asset, "partitions": list(request.partitions), "force": request.force}


def _line(now: dt.datetime, result: TickResult) -> str:
    runs = ", ".join(f"{r.run_id} {r.status}" for r in result.runs) or "no run"
    text = (
        f"tick {result.tick_id} at {now.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC "
        f"{result.status}: {result.requested} partitions requested; {runs}"
    )
    for source, error in result.errors.items():
        text += f"; {source} failed: {error}"
    return text


__all__ = ["Daemon", "TickResult", "daemon_id", "default_evaluators", "recent_ticks"]
