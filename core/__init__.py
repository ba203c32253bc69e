"""How and when: status, planning, materialization and the project API.

Submodules are imported on first use, so importing one piece (say, the settings)
does not pull in the catalog and pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partita import _lazy

if TYPE_CHECKING:
    from partita.core.config import Settings, load_settings
    from partita.core.plan.causes import CauseKind, Freshness
    from partita.core.plan.explain import AssetStatus, WhyLink
    from partita.core.plan.planner import Plan, Step, Target, plan
    from partita.core.plan.status import Cause, PartitionStatus, StatusResolver, input_fingerprint
    from partita.core.project import Project
    from partita.core.run.materializer import Materializer
    from partita.core.run.options import RunOptions
    from partita.core.run.outcomes import RunResult, StepOutcome

_LAZY = {
    "AssetStatus": "partita.core.plan.explain",
    "Cause": "partita.core.plan.status",
    "CauseKind": "partita.core.plan.causes",
    "Freshness": "partita.core.plan.causes",
    "Materializer": "partita.core.run.materializer",
    "PartitionStatus": "partita.core.plan.status",
    "Plan": "partita.core.plan.planner",
    "Project": "partita.core.project",
    "RunOptions": "partita.core.run.options",
    "RunResult": "partita.core.run.outcomes",
    "Settings": "partita.core.config",
    "Step": "partita.core.plan.planner",
    "StatusResolver": "partita.core.plan.status",
    "StepOutcome": "partita.core.run.outcomes",
    "Target": "partita.core.plan.planner",
    "WhyLink": "partita.core.plan.explain",
    "input_fingerprint": "partita.core.plan.status",
    "load_settings": "partita.core.config",
    "plan": "partita.core.plan.planner",
}


__getattr__ = _lazy.exports(__name__, _LAZY)

__all__ = [
    "AssetStatus",
    "Cause",
    "CauseKind",
    "Freshness",
    "Materializer",
    "PartitionStatus",
    "Plan",
    "Project",
    "RunOptions",
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
