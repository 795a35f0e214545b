"""What every cloud stack derives the same way from a spec's node pools.

Labels are the platform layer's handle on a pool (node selectors for the GPU stack and
the notebooks' GPU profiles), so GKE, AKS and EKS must put the same keys on the same
pools; the cloud-specific spelling of taints and sizes stays in each stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from installer.spec.model import NodePool, Spec
from stacks.base import GpuPoolOutput

LABEL_POOL = "kfstack.io/pool"
LABEL_ROLE = "kfstack.io/role"
LABEL_GPU_MODEL = "kfstack.io/gpu-model"
LABEL_GPU_COUNT = "kfstack.io/gpu-count"


def pool_labels(pool: NodePool) -> dict[str, str]:
    """The pool's own labels plus kfstack's: pool name, role and, for GPU pools, the model
    and count. kfstack's keys win over a same-named spec label, which would otherwise
    break the platform layer's selectors."""
    labels = dict(pool.labels)
    labels[LABEL_POOL] = pool.name
    labels[LABEL_ROLE] = str(pool.role)
    if pool.gpu is not None:
        labels[LABEL_GPU_MODEL] = pool.gpu.model
        labels[LABEL_GPU_COUNT] = str(pool.gpu.count)
    return labels


def k8s_taints(pool: NodePool) -> list[dict[str, str]]:
    """The pool's taints in Kubernetes' spelling (what tolerations must match)."""
    return [{"key": t.key, "value": t.value, "effect": t.effect} for t in pool.effective_taints]


def gpu_pool_outputs(
    spec: Spec, taints: Callable[[NodePool], list[dict[str, str]]] = k8s_taints
) -> list[GpuPoolOutput]:
    """`InfraOutputs.gpu_pools` for a cloud whose platform installs the GPU driver.

    `taints` gives every taint a node of the pool carries, the cloud's own included, so
    the platform layer can tolerate them all."""
    return [
        GpuPoolOutput(
            name=pool.name,
            gpu_model=pool.gpu.model,
            gpu_count=pool.gpu.count,
            labels=pool_labels(pool),
            taints=taints(pool),
            driver="platform",
        )
        for pool in spec.gpu_pools
        if pool.gpu is not None
    ]


def output(value: Any, description: str) -> dict[str, Any]:
    """A Terraform JSON `output` block."""
    return {"value": value, "description": description}
