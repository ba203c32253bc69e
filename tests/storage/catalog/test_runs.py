"""Runs, steps, attempts and log lines on each catalog backend, and runs whose process
died, shown as crashed."""

from __future__ import annotations

from partita.storage import AttemptEnd, LogLine
from tests.storage.conftest import exited_pid, new_version

A, B, C = "sales", "clean", "report"
DAY1, DAY2, DAY3 = "2026-04-01", "2026-04-02", "2026-04-03"


class TestRuns:
    """The record of runs."""

    def test_a_run_records_steps_attempts_and_logs(self, make_catalog) -> None:
        catalog = make_catalog()
        ids = catalog.create_run(
            "run-1",
            "backfill",
            [f"{B}:2"],
            [(A, DAY1, "missing"), (B, DAY1, "missing"), (B, DAY2, "code changed")],
            {"workers": 2},
        )
        assert set(ids) == {(A, DAY1), (B, DAY1), (B, DAY2)}
        assert len(set(ids.values())) == 3
        step = ids[(A, DAY1)]

        (token,) = catalog.acquire_many([(A, DAY1)], "run-1")
        assert token is not None
        (first,) = catalog.start_attempts("run-1", [(step, 1)])
        logs = (
            LogLine("run-1", step, 1, A, DAY1, 100.0, "INFO", "fetching"),
            LogLine("run-1", step, 1, A, DAY1, 101.0, "ERROR", "attempt 1 failed"),
        )
        flaky = "RuntimeError: flaky"
        end = AttemptEnd(first, step, A, DAY1, token, logs, error=flaky, final=False)
        catalog.finish_attempts("run-1", [end])
        (second,) = catalog.start_attempts("run-1", [(step, 2)])
        assert second != first
        ok = (LogLine("run-1", step, 2, A, DAY1, 102.0, "INFO", "ok"),)
        version = new_version("v1")
        catalog.finish_attempts("run-1", [AttemptEnd(second, step, A, DAY1, token, ok, version)])
        catalog.update_step(ids[(B, DAY1)], status="failed", detail="ValueError: bad")
        catalog.update_step(ids[(B, DAY2)], status="skipped", detail="upstream failed")
        catalog.finish_run("run-1", "failed")

        run = catalog.run("run-1")

        assert run is not None
        assert (run.run_id, run.command, run.targets, run.status) == (
            "run-1",
            "backfill",
            (f"{B}:2",),
            "failed",
        )
        assert run.duration is not None and run.duration >= 0
        assert run.counts == {"succeeded": 1, "failed": 1, "skipped": 1}
        steps = {(s.asset, s.partition): s for s in run.steps}
        built = steps[(A, DAY1)]
        assert (built.status, built.reason, built.version_id, built.rows, built.bytes) == (
            "succeeded",
            "missing",
            "v1",
            10,
            1234,
        )
        assert built.duration is not None and built.duration >= 0
        assert [(a.number, a.status, a.error) for a in built.attempts] == [
            (1, "failed", "RuntimeError: flaky"),
            (2, "succeeded", None),
        ]
        assert all(a.finished_at is not None for a in built.attempts)
        assert (steps[(B, DAY1)].status, steps[(B, DAY1)].detail) == ("failed", "ValueError: bad")
        assert steps[(B, DAY2)].reason == "code changed"
        assert steps[(B, DAY2)].attempts == ()

        logs = catalog.logs("run-1")
        assert [(ln.attempt, ln.level, ln.message) for ln in logs] == [
            (1, "INFO", "fetching"),
            (1, "ERROR", "attempt 1 failed"),
            (2, "INFO", "ok"),
        ]
        assert catalog.logs("run-1", A, DAY1) == logs
        assert catalog.logs("run-1", B) == []
        assert catalog.logs("run-1", A, DAY2) == []

    def test_runs_lists_newest_first_with_step_counts(self, make_catalog) -> None:
        catalog = make_catalog()
        catalog.create_run("01-older", "materialize", [A], [(A, DAY1, "missing")])
        catalog.finish_run("01-older", "succeeded")
        ids = catalog.create_run(
            "02-newer", "backfill", [A], [(A, DAY1, "missing"), (A, DAY2, "missing")]
        )
        catalog.update_step(ids[(A, DAY1)], status="succeeded")

        runs = catalog.runs()

        assert [r.run_id for r in runs] == ["02-newer", "01-older"]
        assert runs[0].status == "running" and runs[0].finished_at is None
        assert runs[0].counts == {"succeeded": 1, "pending": 1}
        assert runs[1].counts == {"pending": 1}
        assert [r.run_id for r in catalog.runs(limit=1)] == ["02-newer"]

    def test_run_by_last_and_by_unique_prefix(self, make_catalog) -> None:
        catalog = make_catalog()
        assert catalog.run("last") is None
        catalog.create_run("abc123", "materialize", [A], [])
        catalog.create_run("abd456", "materialize", [A], [])

        last = catalog.run("last")
        assert last is not None and last.run_id == "abd456"
        assert catalog.run("abc") is not None and catalog.run("abc").run_id == "abc123"
        assert catalog.run("abd456").run_id == "abd456"
        assert catalog.run("ab") is None  # ambiguous
        assert catalog.run("zzz") is None  # unknown
        assert catalog.run("a_c") is None  # LIKE wildcards are matched literally
        assert catalog.run("%") is None

    def test_runs_of_dead_local_processes_are_shown_as_crashed(self, make_catalog) -> None:
        catalog = make_catalog()
        ids = catalog.create_run(
            "dead-run", "backfill", [A], [(A, DAY1, "missing"), (A, DAY2, "missing")]
        )
        catalog.update_step(ids[(A, DAY1)], status="succeeded")
        catalog.create_run("live-run", "materialize", [A], [(A, DAY3, "missing")])
        make_catalog.sql("UPDATE runs SET pid = ? WHERE id = ?", exited_pid(), "dead-run")

        runs = {r.run_id: r for r in catalog.runs()}

        assert {run_id: r.status for run_id, r in runs.items()} == {
            "dead-run": "crashed",
            "live-run": "running",
        }
        assert runs["dead-run"].counts == {"succeeded": 1, "crashed": 1}
        dead = catalog.run("dead-run")
        assert dead is not None and dead.status == "crashed"
        assert dead.counts == {"succeeded": 1, "crashed": 1}
        assert {s.partition: s.status for s in dead.steps} == {DAY1: "succeeded", DAY2: "crashed"}
        assert catalog.run("live-run").status == "running"

    def test_reads_show_a_crash_that_the_next_run_records(self, make_catalog) -> None:
        catalog = make_catalog()
        catalog.create_run("dead-run", "backfill", [A], [(A, DAY1, "missing")])
        make_catalog.sql("UPDATE runs SET pid = ? WHERE id = ?", exited_pid(), "dead-run")
        recorded = "SELECT r.status, s.status FROM runs r JOIN steps s ON s.run_id = r.id"

        assert catalog.run("dead-run").status == "crashed"
        assert [r.status for r in catalog.runs()] == ["crashed"]
        assert make_catalog.sql(recorded) == [("running", "pending")]  # reads wrote nothing

        catalog.create_run("next-run", "materialize", [A], [])

        assert make_catalog.sql(recorded) == [("crashed", "crashed")]
        assert catalog.run("dead-run").status == "crashed"

    def test_a_finished_run_of_a_dead_process_keeps_its_status(self, make_catalog) -> None:
        catalog = make_catalog()
        catalog.create_run("done", "materialize", [A], [])
        catalog.finish_run("done", "succeeded")
        make_catalog.sql("UPDATE runs SET pid = ? WHERE id = ?", exited_pid(), "done")

        assert catalog.run("done").status == "succeeded"
