"""``scripts/test --fast``, as docs/contributing.md shows it: ruff, mypy and the tests not
marked slow, with no docs build, in a copy of the repository set up in the running environment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_docs_commands import copy_repo, reader_env


def test_the_fast_tier_runs_ruff_mypy_and_the_tests_not_marked_slow(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    # Collected only, in this process's environment (setup finds it up to date): the
    # selection is what is checked, not the tests again.
    done = subprocess.run(
        ["./scripts/test", "--fast", "--collect-only", "-q", "-n", "0"],
        cwd=repo,
        env=reader_env(PARTITA_VENV=sys.prefix),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "up to date" in done.stdout
    phases = re.findall(r"^test: (.+) took [\d.]+ s$", done.stdout, flags=re.MULTILINE)
    assert phases == ["setup", "ruff check", "ruff format", "mypy", "pytest"]
    assert "Success: no issues found" in done.stdout
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    selected, total = map(int, re.search(r"(\d+)/(\d+) tests collected", done.stdout).groups())
    assert len(collected) == selected < total
    assert not [line for line in collected if line.startswith("tests/e2e/")]
    assert "tests/assets/partitions/test_partitions.py::" in done.stdout
