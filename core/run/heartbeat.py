"""A heartbeat: renews a holder's leases from a background thread while it works."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from partita.errors import PartitaError


class Heartbeat:
    """Calls ``beat`` every ``every`` seconds from a daemon thread until stopped.

    A beat that raises a :class:`PartitaError` (the catalog did not answer) is retried at
    the next one: leases outlive a few missed beats. A beat that returns ``False`` (the
    lease was lost) ends the heartbeat. Use it as a context manager, or :meth:`stop` it.

    Args:
        beat: Renews the leases; returns ``False`` to stop beating.
        every: Seconds between beats.
        name: The thread's name.
    """

    def __init__(self, beat: Callable[[], bool | None], every: float, name: str) -> None:
        self._beat = beat
        self._every = every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._every):
            try:
                kept = self._beat()
            except PartitaError:
                continue
            if kept is False:
                return

    def stop(self) -> None:
        """Stop beating, and wait for a beat in progress to end."""
        self._stopped.set()
        self._thread.join()

    def __enter__(self) -> Heartbeat:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["Heartbeat"]
