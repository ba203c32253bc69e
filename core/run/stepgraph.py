"""The steps of a run as a graph: which are ready, which ended, which a failure skips;
and the batch policy that decides how many ready steps go to a worker together.

Pure bookkeeping over step indexes: the materializer drives it (submits batches, reports
outcomes) and records what it says in the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from partita.assets import AssetGraph
from partita.core.plan.planner import Plan, Step, step_dependencies
from partita.core.run.outcomes import StepOutcome
from partita.core.run.pools import Limit, ReadySteps

BATCH_MAX = 16  # steps sent to a worker at once, at most


class StepGraph:
    """A plan's steps with their dependencies, and how far the run has got.

    Args:
        plan: The plan being run.
        graph: The asset graph it was made from.
        limits: The concurrency limits of the assets that have any.
    """

    def __init__(
        self, plan: Plan, graph: AssetGraph, limits: Mapping[str, tuple[Limit, ...]]
    ) -> None:
        self.steps: Sequence[Step] = plan.steps
        waits = step_dependencies(graph, plan.steps, plan.now, plan.dynamic)
        self._blocking = [len(set(upstream)) for upstream in waits]
        self._dependents: list[list[int]] = [[] for _ in plan.steps]
        for index, upstream in enumerate(waits):
            for up in set(upstream):
                self._dependents[up].append(index)
        self.outcomes: dict[int, StepOutcome] = {}
        self.ready = ReadySteps([step.asset for step in plan.steps], limits)
        self.ready.extend(i for i, count in enumerate(self._blocking) if count == 0)

    def finish(self, index: int, outcome: StepOutcome) -> list[int]:
        """Record how a started step ended; the steps that become ready follow.

        Returns:
            The steps downstream of a failure, which will never run (in the order found).
        """
        self.ready.finished(index)
        self.outcomes[index] = outcome
        if outcome.blocks_downstream:
            return self._downstream(index)
        for down in self._dependents[index]:
            self._blocking[down] -= 1
            if self._blocking[down] == 0 and down not in self.outcomes:
                self.ready.append(down)
        return []

    def skip(self, index: int, outcome: StepOutcome) -> None:
        """Record the outcome of a step that never started."""
        self.outcomes[index] = outcome

    def unfinished(self) -> list[int]:
        """The steps without an outcome (only when the run stopped early)."""
        return [i for i in range(len(self.steps)) if i not in self.outcomes]

    def ordered(self) -> tuple[StepOutcome, ...]:
        """Every outcome, in the plan's order."""
        return tuple(self.outcomes[i] for i in sorted(self.outcomes))

    def _downstream(self, index: int) -> list[int]:
        found: list[int] = []
        seen: set[int] = set()
        todo = list(self._dependents[index])
        while todo:
            down = todo.pop()
            if down in self.outcomes or down in seen:
                continue
            seen.add(down)
            found.append(down)
            todo.extend(self._dependents[down])
        return found


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """How many ready steps go to one worker together.

    Steps start in the order they became ready, in batches of up to ``most`` while more
    are ready than there are workers: a batch spreads the per-step costs (catalog
    transactions, a round trip to a worker process) while each step keeps its own
    lease, attempts and commit. A step of an asset with limits runs alone (its slots
    are taken for it only), and so does every step of a run that may be stopped, so
    that a stop lets only the steps already running finish.

    Attributes:
        workers: How many batches run at once.
        one_by_one: Send every step alone.
        limited: The assets with concurrency limits.
        most: The largest batch.
    """

    workers: int
    one_by_one: bool = False
    limited: frozenset[str] = frozenset()
    most: int = BATCH_MAX

    def take(self, graph: StepGraph) -> list[int] | None:
        """The next batch of ready steps (counted as started), or ``None``."""
        ready = graph.ready
        index = ready.take()
        if index is None:
            return None
        batch = [index]
        if self.one_by_one or graph.steps[index].asset in self.limited:
            return batch
        size = min(self.most, -(-ready.waiting() // self.workers))
        while len(batch) < size and (more := ready.take_unlimited()) is not None:
            batch.append(more)
        return batch


__all__ = ["BATCH_MAX", "BatchPolicy", "StepGraph"]
