"""How and when: status, planning, materialization and the project API.

Submodules are imported on first use, so importing one piece (say, the settings)
does not pull in the catalog and pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partita import _lazy

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


__getattr__ = _lazy.exports(
    __name__, {name: f"partita.core.{module}" for name, module in _LAZY.items()}
)

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
