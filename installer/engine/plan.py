"""The platform diff for the plan view: per component, what apply would create, change
and prune. Changes come from a server-side apply dry run compared with the live object,
so defaults the server fills in never show up as changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from installer.engine import inventory as inv
from installer.engine.apply import component_objects
from installer.kube import ApiError, KubeClient, NoMatchError
from installer.platform.tree import PlatformTree
from installer.secrets import SecretStore

VOLATILE = ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp")


@dataclass
class ComponentPlan:
    name: str
    create: list[str] = field(default_factory=list)
    change: list[str] = field(default_factory=list)
    prune: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.create or self.change or self.prune)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "create": self.create,
            "change": self.change,
            "prune": self.prune,
            "unchanged": self.unchanged,
        }


def plan_platform(
    tree: PlatformTree,
    kube: KubeClient,
    *,
    infra: dict[str, Any] | None = None,
    store: SecretStore | None = None,
) -> list[ComponentPlan]:
    """What `apply_platform` would do, without changing the cluster.

    Raises:
        UserError: a pending value or secret is missing.
        KubeError: the cluster is unreachable.
    """
    records = inv.read_all(kube, tree.platform)
    plans = []
    for comp in tree.components:
        plan = ComponentPlan(comp.name)
        objects = component_objects(tree, comp.name, infra, store)
        for obj in objects:
            ref = inv.ObjectRef.of(obj)
            try:
                res = kube.resource_of(obj)
                live = kube.get_or_none(res, ref.name, ref.namespace or None)
            except NoMatchError:
                plan.create.append(str(ref))  # its CRD arrives with this apply
                continue
            if live is None:
                plan.create.append(str(ref))
                continue
            try:
                after = kube.apply(obj, field_manager="kfstack", dry_run=True)
            except ApiError as exc:
                plan.change.append(f"{ref} (dry run refused: {exc.code} {exc.reason})")
                continue
            if _comparable(after) != _comparable(live):
                plan.change.append(str(ref))
            else:
                plan.unchanged += 1
        record = records.get(comp.name)
        if record:
            wanted = {inv.ObjectRef.of(o) for o in objects}
            plan.prune = [str(r) for r in sorted(set(record.objects) - wanted)]
        plans.append(plan)
    present = {c.name for c in tree.components}
    for name, record in sorted(records.items()):
        if name not in present:
            plans.append(ComponentPlan(name, prune=[str(r) for r in record.objects]))
    return plans


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in VOLATILE}
    out["metadata"] = meta
    return out
