"""What a running step knows about itself."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from partita.assets.partitions.base import TimeWindow


@dataclass(frozen=True, slots=True)
class Context:
    """Passed to an asset function that takes a ``ctx`` (or ``context``) parameter.

    Attributes:
        asset: the asset key being built.
        partition_key: the partition's key (``"2026-04-08"``), or ``None`` when unpartitioned.
        partition: the partition's time window (pendulum ``start`` and ``end``), or ``None``
            for partitions without time.
        dimensions: the key of each dimension (``{"date": "2026-04-08", "region": "eu"}``);
            empty when unpartitioned.
        run_id: the id of the run this step belongs to.
        attempt: 1 for the first try, 2 for the first retry, and so on.
        log: a logger whose records are kept with this attempt in the catalog.
    """

    asset: str
    partition_key: str | None
    partition: TimeWindow | None
    dimensions: Mapping[str, str]
    run_id: str
    attempt: int
    log: logging.Logger
