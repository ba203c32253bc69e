"""The commit path runs use (``finish_attempts``), on each catalog backend: versions
are committed behind the fence, partition by partition; a zombie writer, a stale token
or a missing lease commits nothing, and the attempt and step say so."""

from __future__ import annotations

from partita.errors import LeaseLostError
from partita.storage import AttemptEnd, Catalog, LogLine, PartitionState
from tests.storage.conftest import build, finish, new_version

A, B, C = "sales", "clean", "report"
DAY1, DAY2, DAY3 = "2026-04-01", "2026-04-02", "2026-04-03"


def history(catalog: Catalog, asset: str, partition: str) -> list[tuple[str, str]]:
    """Every version of a partition ever committed, newest first: ``(id, status)``."""
    return [(v.version_id, v.status) for v in catalog.reports.versions_of(asset, [partition])]


class TestCommits:
    """How attempts end, and what they commit."""

    def test_a_batch_is_leased_committed_and_recorded_partition_by_partition(
        self, make_catalog
    ) -> None:
        catalog = make_catalog()
        build(catalog, A, DAY3, new_version("v0"))
        held = catalog.acquire(A, DAY2, "other-writer")
        ids = catalog.create_run(
            "run-1", "backfill", [A], [(A, d, "missing") for d in (DAY1, DAY2, DAY3)]
        )

        tokens = catalog.acquire_many([(A, DAY1), (A, DAY2), (A, DAY3)], "run-1")

        assert tokens[0] == 1 and tokens[1] is None and tokens[2] == 2 and held == 1
        first, third = ids[(A, DAY1)], ids[(A, DAY3)]
        attempts = catalog.start_attempts("run-1", [(first, 1), (third, 1)])
        assert len(set(attempts)) == 2
        line = LogLine("run-1", first, 1, A, DAY1, 1.0, "INFO", "built")
        ends = [
            AttemptEnd(attempts[0], first, A, DAY1, 1, (line,), new_version("v1")),
            AttemptEnd(attempts[1], third, A, DAY3, 1, (), new_version("v3")),  # stale token
        ]
        results = catalog.finish_attempts("run-1", ends)

        assert results[0] is None and isinstance(results[1], LeaseLostError)
        states = catalog.states([A])[A]
        assert states[DAY1].version_id == "v1" and states[DAY3].version_id == "v0"
        assert catalog.acquire(A, DAY1, "someone-else") is not None  # released
        assert catalog.acquire(A, DAY3, "someone-else") is None  # still run-1's: not its token
        steps = {(s.asset, s.partition): s for s in catalog.run("run-1").steps}
        assert (steps[(A, DAY1)].status, steps[(A, DAY1)].version_id) == ("succeeded", "v1")
        assert steps[(A, DAY3)].status == "failed" and "lease lost" in steps[(A, DAY3)].detail
        assert steps[(A, DAY2)].status == "pending"
        assert [ln.message for ln in catalog.logs("run-1", A, DAY1)] == ["built"]

    def test_a_failed_attempt_keeps_the_lease_for_its_retry(self, make_catalog) -> None:
        catalog = make_catalog()
        ids = catalog.create_run("run-1", "backfill", [A], [(A, DAY1, "missing")])
        step = ids[(A, DAY1)]
        (token,) = catalog.acquire_many([(A, DAY1)], "run-1")
        assert token is not None
        (first,) = catalog.start_attempts("run-1", [(step, 1)])
        catalog.finish_attempts(
            "run-1", [AttemptEnd(first, step, A, DAY1, token, error="boom", final=False)]
        )
        assert catalog.acquire(A, DAY1, "someone-else") is None
        (second,) = catalog.start_attempts("run-1", [(step, 2)])
        catalog.finish_attempts("run-1", [AttemptEnd(second, step, A, DAY1, token, error="boom")])
        (recorded,) = catalog.run("run-1").steps
        assert (recorded.status, recorded.detail) == ("failed", "boom")
        assert [a.status for a in recorded.attempts] == ["failed", "failed"]
        assert catalog.states([A])[A][DAY1].failure == "boom"
        assert catalog.acquire(A, DAY1, "someone-else") is not None

    def test_a_zombie_writer_commits_nothing(self, make_catalog) -> None:
        zombie_side, live_side = make_catalog(lease_seconds=-1), make_catalog()
        build(live_side, A, DAY1, new_version("v0", "d0"))
        before_states = live_side.states([A])
        stale = zombie_side.acquire(A, DAY1, "zombie")
        assert stale is not None
        current = live_side.acquire(A, DAY1, "live")  # the zombie's lease had expired
        assert current == stale + 1

        version = new_version("vz", "dz")
        lost = finish(zombie_side, "zombie", A, DAY1, stale, version, run_id="zombie-run")

        assert isinstance(lost, LeaseLostError)
        assert "nothing was committed" in str(lost)
        assert live_side.states([A]) == before_states  # nor the zombie's failure recorded
        assert history(live_side, A, DAY1) == [("v0", "committed")]
        (step,) = live_side.run("zombie-run").steps
        assert (step.status, step.version_id) == ("failed", None)
        assert "lease lost" in step.detail and step.attempts[0].status == "failed"
        assert zombie_side.acquire(A, DAY1, "zombie") is None  # the live lease still holds
        assert finish(live_side, "live", A, DAY1, current, new_version("v1", "d1")) is None
        assert live_side.states([A])[A][DAY1].version_id == "v1"

    def test_a_stale_token_of_the_same_owner_commits_nothing(self, make_catalog) -> None:
        catalog = make_catalog()
        old = catalog.acquire(A, DAY1, "w")
        new = catalog.acquire(A, DAY1, "w")
        assert old is not None and new == old + 1

        lost = finish(catalog, "w", A, DAY1, old, new_version("v1"))

        assert isinstance(lost, LeaseLostError)
        assert catalog.states([A])[A][DAY1].version_id is None
        assert history(catalog, A, DAY1) == []
        assert catalog.acquire(A, DAY1, "other") is None  # the current token still holds it

    def test_commit_without_any_lease_is_refused(self, make_catalog) -> None:
        catalog = make_catalog()

        assert isinstance(finish(catalog, "w", A, DAY1, 1, new_version("v1")), LeaseLostError)

        assert catalog.states([A]) == {A: {}}
        assert history(catalog, A, DAY1) == []

    def test_commit_supersedes_the_previous_version_and_clears_failure(self, make_catalog) -> None:
        catalog = make_catalog()
        build(catalog, A, DAY1, new_version("v1", "d1"))
        token = catalog.acquire(A, DAY1, "w")
        assert token is not None
        catalog.release(A, DAY1, "w", token, failure="RuntimeError: flaky")
        assert catalog.states([A])[A][DAY1] == PartitionState(
            "v1", "c1", "d1", "in-d1", "RuntimeError: flaky"
        )

        build(catalog, A, DAY1, new_version("v2", "d2", code="c2"))

        assert catalog.states([A])[A][DAY1] == PartitionState("v2", "c2", "d2", "in-d2", None)
        assert sorted(history(catalog, A, DAY1)) == [("v1", "superseded"), ("v2", "committed")]
        assert catalog.versions(A, [DAY1])[DAY1].version_id == "v2"

    def test_commit_releases_the_lease(self, make_catalog) -> None:
        catalog = make_catalog()
        build(catalog, A, DAY1, new_version("v1"), owner="w1")
        assert catalog.acquire(A, DAY1, "w2") is not None
