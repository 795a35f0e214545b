"""What every cloud stack derives the same way from a spec's node pools.

Labels are the platform layer's handle on a pool (node selectors for the GPU stack and
the notebooks' GPU profiles), so GKE, AKS and EKS must put the same keys on the same
pools; the cloud-specific spelling of taints and sizes stays in each stack.
"""

from __future__ import annotations

from installer.spec.model import NodePool

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
