"""How and when: status, planning, materialization and the project API.

Submodules are imported on first use, so importing one piece (say, the settings)
does not pull in the catalog and pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from partita.core.config import Settings, load_settings
    from partita.core.materializer import Materializer, RunResult, StepOutcome
    from partita.core.planner import Plan, Step, Target, plan
    from partita.core.project import Project
    from partita.core.report import AssetStatus, WhyLink
    from partita.core.status import Cause, PartitionStatus, StatusResolver, input_fingerprint

_LAZY = {
    "AssetStatus": "report",
    "Cause": "status",
    "Materializer": "materializer",
    "PartitionStatus": "status",
    "Plan": "planner",
    "Project": "project",
    "RunResult": "materializer",
    "Settings": "config",
    "Step": "planner",
    "StatusResolver": "status",
    "StepOutcome": "materializer",
    "Target": "planner",
    "WhyLink": "report",
    "input_fingerprint": "status",
    "load_settings": "config",
    "plan": "planner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'partita.core' has no attribute {name!r}")
    return getattr(importlib.import_module(f"partita.core.{module}"), name)


__all__ = [
    "AssetStatus",
    "Cause",
    "Materializer",
    "PartitionStatus",
    "Plan",
    "Project",
    "RunResult",
    "Settings",
    "Step",
    "StatusResolver",
    "StepOutcome",
    "Target",
    "WhyLink",
    "input_fingerprint",
    "load_settings",
    "plan",
]
