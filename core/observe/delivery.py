"""Delivering events while a run goes on: a background thread, retries, HTTP POSTs.

Alerts (:mod:`partita.core.observe.alerts`) and OpenLineage events
(:mod:`partita.core.observe.openlineage`) both hand their deliveries to a :class:`Courier`: it
runs them in order from one background thread, so a slow destination never slows the
steps, retries each with exponential backoff, and reports one that still fails; a
delivery never fails the run. URLs often embed a token, so errors only ever show them
as ``scheme://host``.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from partita.storage.redaction import redact_url_in

RETRY_BASE_S = 1.0
RETRY_MAX_S = 60.0


class DeliveryError(Exception):
    """One try to deliver an event failed (the message never holds a URL's path)."""


@dataclass(frozen=True, slots=True)
class Parcel:
    """One delivery: how to try it, how many times, and what to do if it never works."""

    attempt: Callable[[], None]
    tries: int
    give_up: Callable[[str, int], None]


class Courier:
    """Runs deliveries from a background thread, started on the first one.

    Args:
        name: the thread's name.
        sleep: how to wait between tries (injectable so tests never sleep).
    """

    def __init__(self, name: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._name = name
        self._sleep = sleep
        self._queue: queue.Queue[Parcel | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def send(
        self, attempt: Callable[[], None], tries: int, give_up: Callable[[str, int], None]
    ) -> None:
        """Queue a delivery: ``attempt`` is called up to ``tries`` times until it does not
        raise :class:`DeliveryError`; then ``give_up(reason, tries)``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._queue.put(Parcel(attempt, tries, give_up))

    def close(self) -> None:
        """Make every queued delivery (with its retries), then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join()
        self._thread = None

    def _run(self) -> None:
        while (parcel := self._queue.get()) is not None:
            self._deliver(parcel)

    def _deliver(self, parcel: Parcel) -> None:
        reason = ""
        for number in range(1, parcel.tries + 1):
            try:
                parcel.attempt()
                return
            except DeliveryError as exc:
                reason = str(exc)
            if number < parcel.tries:
                self._sleep(min(RETRY_BASE_S * 2 ** (number - 1), RETRY_MAX_S))
        parcel.give_up(reason, parcel.tries)


def post_json(url: str, payload: Any, timeout: float) -> None:
    """POST ``payload`` as JSON to ``url``.

    Raises:
        DeliveryError: the server refused it, failed or took too long (without the URL).
    """
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "partita"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise DeliveryError(_reason(exc.reason, url)) from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(_reason(exc, url)) from None


def _reason(error: object, url: str) -> str:
    """An error as one line without the URL (nor its path, where a token may be)."""
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = redact_url_in(str(error), url)
    return f"{type(error).__name__}: {text}" if not isinstance(error, str) else text


def watching(
    observe: Callable[[Any], None], on_step: Callable[[Any], None] | None
) -> Callable[[Any], None]:
    """An ``on_step`` hook that hands each outcome to ``observe``, then to ``on_step``."""

    def hook(outcome: Any) -> None:
        observe(outcome)
        if on_step is not None:
            on_step(outcome)

    return hook


__all__ = ["Courier", "DeliveryError", "post_json", "watching"]
