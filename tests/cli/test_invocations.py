"""Commands run one after another in one process share nothing: each has its own project,
consoles and exit-code rule, and leaves none of them behind."""

from __future__ import annotations

import gc
from pathlib import Path

from partita.cli.invocation import Invocation
from partita.core.project import Project
from tests.cli.test_errors import GOOD, HEADER, write_project


def alive(kind: type) -> int:
    gc.collect()
    return sum(1 for found in gc.get_objects() if isinstance(found, kind))


def test_a_failed_run_does_not_make_the_next_command_a_failed_run(tmp_path: Path, run_cli) -> None:
    failing = "\n@pt.asset(partitions=daily)\ndef broken(ctx):\n    raise ValueError('no')\n"
    bad = write_project(tmp_path / "bad", HEADER + failing)
    good = write_project(tmp_path / "good", GOOD)
    before = alive(Project), alive(Invocation)

    failed = run_cli(bad, "materialize", "broken", "--partition", "2026-04-02")
    assert failed.returncode == 1, failed.stderr
    unknown = run_cli(bad, "materialize", "nothing", "--partition", "2026-04-02")
    assert unknown.returncode == 2, unknown.stderr  # bad usage, though the last one ran
    elsewhere = run_cli(tmp_path, "--project", str(good), "status", "--json")
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert '"asset": "numbers"' in elsewhere.stdout
    here = run_cli(bad, "status", "--json")  # not the project the last command was given
    assert '"asset": "broken"' in here.stdout

    assert (alive(Project), alive(Invocation)) == before
