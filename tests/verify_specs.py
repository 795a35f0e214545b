"""The spec the verify tests share: an EKS platform with one A10G pool, and the labels the
AWS stack gives that pool's nodes (taken from the stack, whose contract they are)."""

from __future__ import annotations

import stacks
from installer.spec import parse_spec


def a10_spec(*teams: str, domain: str | None = None) -> str:
    """Spec text with a system pool, pool a10 (1 x A10G per node), and the given teams."""
    team_list = ", ".join(f"{{name: {t}, owners: [{t}@x.io]}}" for t in teams)
    text = (
        "name: p\ntarget: aws\naws: {region: us-west-2}\nnode_pools:\n"
        "- {name: sys, role: system, min: 1, max: 2}\n"
        "- {name: a10, gpu: {model: A10G}, min: 1, max: 2}\n"
        f"kubeflow:\n  teams: [{team_list}]\n"
    )
    return text + (f"  domain: {domain}\n" if domain else "")


def _a10_node_labels() -> dict[str, str]:
    spec = parse_spec(a10_spec("research")).spec
    (pool,) = stacks.for_spec(spec).pending_outputs().gpu_pools
    return dict(pool.labels)


A10_NODE_LABELS = _a10_node_labels()
