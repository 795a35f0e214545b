"""The install engine: applies a rendered platform tree to a cluster in dependency order,
waits on the conditions that matter, and can be stopped and re-run at any point.

    result = engine.apply_platform(tree, kube, infra=..., store=..., reporter=...)
    plans = engine.plan_platform(tree, kube, infra=..., store=...)

See `installer.engine.apply` for the steps of one component and `inventory` for what
is recorded in the cluster.
"""

from installer.engine.apply import (
    FIELD_MANAGER,
    ApplyResult,
    ComponentFailed,
    ComponentResult,
    apply_platform,
    component_objects,
)
from installer.engine.plan import ComponentPlan, plan_platform
from installer.engine.retry import Backoff

__all__ = [
    "FIELD_MANAGER",
    "ApplyResult",
    "Backoff",
    "ComponentFailed",
    "ComponentPlan",
    "ComponentResult",
    "apply_platform",
    "component_objects",
    "plan_platform",
]
