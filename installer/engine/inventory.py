"""What kfstack applied, kept in the cluster: one ConfigMap per component.

    namespace kfstack-system
    ConfigMap kfstack-<component>   labels kfstack.dev/platform, kfstack.dev/inventory
      data.component, data.digest, data.state (applying | converged), data.objects (JSON)

The inventory is written before a component's objects are applied (state `applying`,
listing old and new objects) so an interrupted run never loses track of what it may
have created, and rewritten once the component converged. Pruning reads only the
inventory, and deletes an object only if the live object still carries the platform
and component labels: nothing outside the inventory is ever touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from installer.kube import KubeClient

NAMESPACE = "kfstack-system"
LABEL_PLATFORM = "kfstack.dev/platform"
LABEL_COMPONENT = "kfstack.dev/component"
LABEL_INVENTORY = "kfstack.dev/inventory"
APPLYING, CONVERGED = "applying", "converged"


@dataclass(frozen=True, order=True)
class ObjectRef:
    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectRef:
        meta = obj.get("metadata") or {}
        return cls(obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass
class Record:
    component: str
    digest: str = ""
    state: str = APPLYING
    objects: list[ObjectRef] = field(default_factory=list)


def _name(component: str) -> str:
    return f"kfstack-{component}"


def namespace_object(platform: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {LABEL_PLATFORM: platform}},
    }


def read_all(kube: KubeClient, platform: str) -> dict[str, Record]:
    """Every component recorded for `platform`.

    Raises:
        KubeError: the API failed.
    """
    res = kube.resource("v1", "ConfigMap")
    items = kube.list(
        res, NAMESPACE, label_selector=f"{LABEL_PLATFORM}={platform},{LABEL_INVENTORY}=true"
    ).get("items", [])
    return {r.component: r for r in (_decode(i) for i in items)}


def read(kube: KubeClient, component: str) -> Record | None:
    res = kube.resource("v1", "ConfigMap")
    item = kube.get_or_none(res, _name(component), NAMESPACE)
    return _decode(item) if item else None


def write(kube: KubeClient, platform: str, record: Record, field_manager: str) -> None:
    data = {
        "component": record.component,
        "digest": record.digest,
        "state": record.state,
        "objects": json.dumps(
            [[o.api_version, o.kind, o.namespace, o.name] for o in sorted(set(record.objects))]
        ),
    }
    kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": _name(record.component),
                "namespace": NAMESPACE,
                "labels": {LABEL_PLATFORM: platform, LABEL_INVENTORY: "true"},
            },
            "data": data,
        },
        field_manager=field_manager,
    )


def forget(kube: KubeClient, component: str) -> None:
    kube.delete(kube.resource("v1", "ConfigMap"), _name(component), NAMESPACE)


def _decode(item: dict[str, Any]) -> Record:
    data = item.get("data") or {}
    objects = [ObjectRef(*entry) for entry in json.loads(data.get("objects") or "[]")]
    return Record(
        data.get("component", ""), data.get("digest", ""), data.get("state", ""), objects
    )
