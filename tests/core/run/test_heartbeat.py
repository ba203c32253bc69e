"""The heartbeat: beats until stopped, retries a beat the catalog missed, ends when told."""

from __future__ import annotations

import threading

from partita.core.run.heartbeat import Heartbeat
from partita.errors import CatalogError


def test_it_beats_until_stopped_and_retries_a_missed_beat() -> None:
    beats: list[int] = []
    third = threading.Event()

    def beat() -> None:
        beats.append(len(beats))
        if len(beats) == 1:
            raise CatalogError("the catalog did not answer")
        if len(beats) == 3:
            third.set()

    with Heartbeat(beat, 0.001, "test-heartbeat"):
        assert third.wait(timeout=10)
    count = len(beats)
    assert count >= 3
    assert len(beats) == count  # stopped: no more beats


def test_a_beat_that_returns_false_ends_it() -> None:
    beats: list[int] = []
    heartbeat = Heartbeat(lambda: beats.append(1) or False, 0.001, "test-heartbeat")
    heartbeat._thread.join(timeout=10)
    assert beats == [1]
    heartbeat.stop()
