"""What a step reads: its upstream partitions, their committed versions, and whether the
step is still needed once its upstream steps have run.

Both are asked just before a batch runs, against the catalog as it is then: another
writer may have built some of the batch's partitions meanwhile, and an upstream rebuild
that produced the same data leaves the step fresh (no-op changes stop cascading).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from partita.assets import AssetGraph
from partita.assets.graph import Edge
from partita.core.plan.planner import Plan, Step
from partita.core.plan.status import StatusResolver, input_fingerprint
from partita.core.run.tasks import Input
from partita.errors import MaterializationError
from partita.storage import Catalog, PartitionState, VersionRecord
from partita.storage.records import PartitionStates

ReadVersions = dict[str, dict[str, str | None]]  # upstream asset -> partition -> data version


@dataclass(frozen=True, slots=True)
class StepInputs:
    """One step's upstream data, as the catalog has it now.

    Attributes:
        given: What its worker reads, per parameter.
        read: The data versions it reads, per upstream asset and partition (``None``: a
            partition without a committed version).
        missing: Why the step cannot run, if an input it needs has no committed version.
    """

    given: tuple[Input, ...]
    read: ReadVersions
    missing: str | None = None

    @property
    def fingerprint(self) -> str:
        """The fingerprint recorded with the version built from these inputs."""
        return input_fingerprint(self.read)

    def lineage(self) -> dict[str, dict[str, str]]:
        """The data versions read, as the version's record keeps them."""
        return {a: {key: v or "" for key, v in keys.items()} for a, keys in self.read.items()}


class Inputs:
    """Resolves what steps read and re-checks whether they are still needed.

    Args:
        graph: The asset graph.
        catalog: Where the committed versions are.
        plan: The plan being run (its clock and dynamic keys map partitions).
    """

    def __init__(self, graph: AssetGraph, catalog: Catalog, plan: Plan) -> None:
        self._graph = graph
        self._catalog = catalog
        self._plan = plan
        self._mapper = StatusResolver(graph, {}, plan.now, plan.dynamic)

    def states(self, steps: Sequence[Step], recheck: Sequence[Step]) -> dict[str, PartitionStates]:
        """In one query: the state of every step's partition, and of the upstream
        partitions of the steps to ``recheck`` (for :meth:`fresh`)."""
        wanted: dict[str, set[str]] = {}
        for step in steps:
            wanted.setdefault(step.asset, set()).add(step.partition)
        for step in recheck:
            for edge, keys in self._upstream(step).items():
                wanted.setdefault(edge.upstream, set()).update(keys)
        return self._catalog.states_of(wanted)

    def fresh(self, recheck: Sequence[Step], states: Mapping[str, PartitionStates]) -> list[Step]:
        """Those of the steps to ``recheck`` another writer has made fresh meanwhile.

        Upstream steps of this plan have finished, so only the code version and the
        inputs can still differ.
        """
        current = StatusResolver(self._graph, states, self._plan.now, self._plan.dynamic)
        fresh: list[Step] = []
        for step in recheck:
            state: PartitionState = current.state(step.asset, step.partition)
            if state.version_id is None:
                continue
            if state.code_version != self._graph.get(step.asset).code_version:
                continue
            inputs = current.inputs(step.asset, step.partition)
            if not inputs or input_fingerprint(inputs) == state.input_hash:
                fresh.append(step)
        return fresh

    def resolve(self, steps: Sequence[Step]) -> list[StepInputs]:
        """For each step: what its worker reads, from the current committed versions."""
        keys = [self._upstream(step) for step in steps]
        wanted: dict[str, set[str]] = {}
        for per_step in keys:
            for edge, upstream in per_step.items():
                wanted.setdefault(edge.upstream, set()).update(upstream)
        versions = {
            asset: self._catalog.versions(asset, sorted(found)) for asset, found in wanted.items()
        }
        return [
            _step_inputs(step, per_step, versions)
            for step, per_step in zip(steps, keys, strict=True)
        ]

    def _upstream(self, step: Step) -> dict[Edge, tuple[str, ...]]:
        return {
            edge: self._mapper.upstream_keys(edge, step.partition)
            for edge in self._graph.upstream(step.asset)
        }


def _step_inputs(
    step: Step,
    upstream: Mapping[Edge, tuple[str, ...]],
    versions: Mapping[str, Mapping[str, VersionRecord]],
) -> StepInputs:
    given: list[Input] = []
    read: ReadVersions = {}
    missing: str | None = None
    for edge, keys in upstream.items():
        have = versions[edge.upstream]
        read[edge.upstream] = {k: (have[k].data_version if k in have else None) for k in keys}
        if edge.param is None:
            continue
        absent = [k for k in keys if k not in have]
        if absent and missing is None:
            error = MaterializationError(
                step.asset,
                step.partition,
                0,
                f"upstream {edge.upstream} has no committed version for {absent[0]}",
            )
            missing = f"{type(error).__name__}: {error}"
        files = tuple((tuple(have[k].files), have[k].kind) for k in keys if k in have)
        given.append(Input(edge.param, edge.mapping.kind, files))
    return StepInputs(tuple(given), read, missing)


__all__ = ["Inputs", "StepInputs"]
