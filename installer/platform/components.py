"""The component model: which folders a spec's platform has, from `data/components.yaml`.

`plan(spec, ctx)` turns the data into an ordered list of `Planned` components:

1. keep the components whose `enabled` condition holds (always, a spec flag, a
   feature such as snapshots or GPU pools that need the device plugin);
2. add `needed` components that an enabled one requires, transitively, so turning
   KServe off also drops Knative, which only it needed;
3. resolve each component's upstream paths for the release (per-version mapping,
   placeholders such as the target's Istio overlay) and drop requirements on
   components that are not in the platform.

The order is the data file's order, which follows upstream CI's install order; the
`requires` edges are what the install engine waits on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from installer.platform.features import Context


@dataclass
class Planned:
    name: str
    paths: list[str] = field(default_factory=list)  # kustomize dirs, release-relative
    files: list[str] = field(default_factory=list)  # plain YAML files
    requires: list[str] = field(default_factory=list)
    namespace: str | None = None
    generated: bool = False
    reason: str = ""
    cost: int = 1  # relative build time, to start the slow ones first


@lru_cache(maxsize=1)
def model() -> list[dict[str, Any]]:
    text = resources.files("installer.platform").joinpath("data/components.yaml").read_text()
    return yaml.safe_load(text)["components"]


def features(ctx: Context) -> dict[str, str]:
    """The features a spec turns on, each with the reason shown in the plan."""
    spec, prof = ctx.spec, ctx.profile
    found: dict[str, str] = {}
    if spec.storage.snapshots and not prof.platform_snapshots and prof.snapshot_driver:
        found["snapshots"] = "storage.snapshots"
    aws = spec.aws
    if aws is not None and aws.addons == "self-managed":
        found["aws-self-managed-csi"] = "aws.addons: self-managed"
        if spec.storage.rwx:
            found["aws-self-managed-efs"] = "aws.addons: self-managed and storage.rwx"
    for feature in prof.addon_features:
        found[feature] = f"target {prof.name}"
    if spec.baremetal is not None and spec.storage.rwx:
        found["nfs"] = "storage.rwx on bare metal"
    if any(p.needs_plugin for p in ctx.gpu_pools()):
        found["device-plugin"] = "GPU pools whose device plugin kfstack installs"
    if spec.kubeflow.teams:
        found["teams"] = "kubeflow.teams"
    return found


def _for_version(value: Any, version: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return list(value.get(version, value.get("default", [])))


def plan(ctx: Context) -> list[Planned]:
    """The ordered components of this platform (see the module docstring)."""
    spec = ctx.spec
    flags = set(spec.kubeflow.components.enabled())
    feats = features(ctx)
    entries = [e for e in model() if ctx.version in e.get("versions", [ctx.version])]
    by_name = {e["name"]: e for e in entries}

    chosen: dict[str, str] = {}
    for entry in entries:
        cond = entry.get("enabled", "always")
        kind, _, arg = cond.partition(":")
        if kind == "always":
            chosen[entry["name"]] = "always"
        elif kind == "component" and arg in flags:
            chosen[entry["name"]] = f"kubeflow.components.{arg}"
        elif kind == "feature" and arg in feats:
            chosen[entry["name"]] = feats[arg]

    # `needed` components follow whatever requires them, transitively.
    pending = list(chosen)
    while pending:
        name = pending.pop()
        for dep in by_name[name].get("requires", []):
            if dep not in chosen and by_name.get(dep, {}).get("enabled") == "needed":
                chosen[dep] = f"needed by {name}"
                pending.append(dep)

    values = {
        "istio_overlay": ctx.profile.istio_overlay,
        "oauth2_proxy_overlay": ctx.profile.oauth2_proxy_overlay,
    }
    out = []
    for entry in entries:
        name = entry["name"]
        if name not in chosen:
            continue
        out.append(
            Planned(
                name=name,
                paths=[p.format(**values) for p in _for_version(entry.get("paths"), ctx.version)],
                files=_for_version(entry.get("files"), ctx.version),
                requires=[r for r in entry.get("requires", []) if r in chosen],
                namespace=entry.get("namespace"),
                generated=bool(entry.get("generated")),
                cost=int(entry.get("cost", 1)),
                reason=chosen[name],
            )
        )
    return out
