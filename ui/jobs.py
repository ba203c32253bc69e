"""Background runs started from the web UI: a plan applied in a thread of the server.

The run id is chosen before the thread starts, so a request answers with it at once
and the browser follows the run's progress in the catalog.
"""

from __future__ import annotations

import logging
import threading

from partita.core.plan.planner import Plan
from partita.core.project import Project
from partita.core.run.options import RunOptions
from partita.storage.redaction import redact_credentials
from partita.storage.store.versions import new_version_id

log = logging.getLogger("partita.ui")


class JobRunner:
    """Applies plans in background threads and remembers the ones still starting.

    Args:
        project: the project whose plans are applied.
    """

    def __init__(self, project: Project) -> None:
        self._project = project
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._errors: dict[str, str] = {}

    def start(self, planned: Plan, command: str) -> str:
        """Start applying ``planned``; returns the id the run will have."""
        run_id = new_version_id()
        thread = threading.Thread(
            target=self._apply, args=(planned, command, run_id), name=f"partita-ui-{run_id}"
        )
        with self._lock:
            self._threads[run_id] = thread
        thread.start()
        return run_id

    def _apply(self, planned: Plan, command: str, run_id: str) -> None:
        try:
            options = RunOptions(command=command, run_id=run_id, stop=self._stop)
            self._project.apply(planned, options)
        except Exception as exc:  # a failing run is recorded; this is what kept it from starting
            message = redact_credentials(str(exc) or type(exc).__name__)
            log.warning("run %s stopped: %s", run_id, message)
            with self._lock:
                self._errors[run_id] = message

    def active(self, run_id: str) -> bool:
        """Whether the run's thread is still working."""
        with self._lock:
            thread = self._threads.get(run_id)
        return thread is not None and thread.is_alive()

    def known(self, run_id: str) -> bool:
        """Whether this server started the run."""
        with self._lock:
            return run_id in self._threads

    def error(self, run_id: str) -> str | None:
        """Why the run could not start or finish, if it broke off with an error."""
        with self._lock:
            return self._errors.get(run_id)

    def close(self, timeout: float | None = None) -> None:
        """Let the steps in flight finish, start no new one, and wait for the threads."""
        self._stop.set()
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout)


__all__ = ["JobRunner"]
