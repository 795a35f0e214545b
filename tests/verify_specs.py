"""The spec the verify tests share: an EKS platform with one A10G pool, and the labels the
AWS stack gives that pool's nodes (stacks/aws.py `pool_labels`)."""

from __future__ import annotations

A10_NODE_LABELS = {
    "kfstack.dev/pool": "a10",
    "kfstack.dev/gpu-model": "A10G",
    "nvidia.com/gpu.present": "true",
}


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
