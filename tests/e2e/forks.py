"""The fault runner's fork server, for tests that start many ``partita`` processes.

Each process is forked from a server that has imported partita and its libraries once
(see ``faultrunner.serve``), armed with the faults its spec names (none: plain partita),
so a test can start dozens of them without paying for the imports each time.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import cli_env

RUNNER = Path(__file__).with_name("faultrunner.py")


class ForkServer:
    """Starts ``partita`` processes on request, each forked from one warm server."""

    def __init__(self) -> None:
        self._server = subprocess.Popen(
            [sys.executable, str(RUNNER), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=cli_env(),
            text=True,
        )

    def _ask(self, request: dict[str, Any], timeout: float = 240) -> dict[str, Any]:
        assert self._server.stdin is not None and self._server.stdout is not None
        self._server.stdin.write(json.dumps(request) + "\n")
        self._server.stdin.flush()
        with selectors.DefaultSelector() as selector:
            selector.register(self._server.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise AssertionError(f"the fault runner did not answer {request} in time")
        line = self._server.stdout.readline()
        assert line, "the fault runner stopped"
        return dict(json.loads(line))

    def spawn(
        self,
        project: Path,
        argv: list[str],
        spec: dict[str, Any],
        env: dict[str, str] | None = None,
    ) -> int:
        """Start ``partita ARGV`` in ``project`` armed as ``spec`` says; returns its pid.
        Its stderr goes to ``runner.log`` in the project."""
        request = {
            "spec": spec,
            "argv": argv,
            "cwd": str(project),
            "env": cli_env(env),
            "log": str(project / "runner.log"),
        }
        return int(self._ask(request)["pid"])

    def wait(self, pids: list[int]) -> list[int]:
        """The exit codes of started processes, once they all ended (negative: killed by
        that signal)."""
        return list(self._ask({"wait": pids})["returncodes"])

    def close(self) -> None:
        assert self._server.stdin is not None and self._server.stdout is not None
        self._server.stdin.close()
        self._server.wait(timeout=60)
        self._server.stdout.close()


__all__ = ["RUNNER", "ForkServer"]
