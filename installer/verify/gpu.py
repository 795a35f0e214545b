"""Which GPU nodes a platform has, how to reach them, and how to recognise their GPUs.

`gpu_targets(spec, infra)` lists one `GpuTarget` per GPU pool: the GPU model and count
the spec promises, and the node selector and tolerations a pod needs to land there.
Both come from the infrastructure layer's `InfraOutputs.gpu_pools` (labels and taints
every node of the pool carries), so verify selects nodes exactly as the stack labelled
them on each target; before apply, or without outputs at hand, the stack's own
`pending_outputs()` gives the same pools, computed from the spec.

`nvidia-smi` names GPUs differently from the catalog ("NVIDIA A100-SXM4-80GB" for
A100-80GB, "Tesla T4" for T4); `name_pattern(model)` is a regular expression that reads
the same in Python and in POSIX ERE (`grep -E`), so the pipeline step inside the
cluster and the Job check here compare with the very same pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import stacks as _stacks
from installer.spec.model import Spec

# Word boundaries written out, because POSIX ERE has no \b and no look-ahead.
_B, _E = "(^|[^A-Za-z0-9])", "([^A-Za-z0-9]|$)"
# Names as `nvidia-smi --query-gpu=name` prints them (NVIDIA data-center GPU product
# names; the SXM/PCIe variants of each are covered).
_SMI_PATTERNS = {
    "T4": f"{_B}T4{_E}",
    "A10G": f"{_B}A10G{_E}",
    "A10": f"{_B}A10{_E}",
    "L4": f"{_B}L4{_E}",
    "L40S": f"{_B}L40S{_E}",
    "A100-40GB": f"{_B}A100.*40GB",
    "A100-80GB": f"{_B}A100.*80GB",
    "H100": f"{_B}H100( [0-9]+GB| PCIe|-SXM|$)",
    "H100-NVL": f"{_B}H100 NVL",
    "H200": f"{_B}H200{_E}",
}

MODEL_LINE = "kfstack-gpu-model:"

# The CUDA base image carries no CUDA libraries; nvidia-smi and the device nodes are
# injected by the NVIDIA container toolkit on GPU nodes, which is the thing under test.
GPU_IMAGE = "nvcr.io/nvidia/cuda:12.8.1-base-ubuntu24.04"
CPU_IMAGE = "docker.io/library/busybox:1.37"


def name_pattern(model: str) -> str:
    """An ERE/Python pattern matching how nvidia-smi names `model` (case-insensitive)."""
    return _SMI_PATTERNS.get(model, _B + re.escape(model) + _E)


def matches(model: str, reported: str) -> bool:
    """True when the nvidia-smi name `reported` is a GPU of catalog model `model`."""
    return re.search(name_pattern(model), reported, re.IGNORECASE) is not None


def reported_models(log: str) -> list[str]:
    """The GPU names the check script printed (one `kfstack-gpu-model:` line per GPU)."""
    return [
        line.split(MODEL_LINE, 1)[1].strip() for line in log.splitlines() if MODEL_LINE in line
    ]


# The script both the GPU Job and the pipeline's GPU step run: it fails unless the device
# node is present, nvidia-smi answers, and the first GPU matches the expected pattern
# (passed as $0 so it needs no quoting inside the script).
CHECK_SCRIPT = f"""set -eu
if [ ! -e /dev/nvidia0 ]; then
  echo "no /dev/nvidia0 in the container: the GPU was not mounted (device plugin?)"; exit 1
fi
nvidia-smi --query-gpu=name --format=csv,noheader | sed 's/^/{MODEL_LINE} /'
first=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
if ! echo "$first" | grep -Eiq "$0"; then
  echo "the GPU is '$first', which does not match the expected model ($0)"; exit 1
fi
echo "kfstack-gpu-check: ok"
"""


@dataclass(frozen=True)
class GpuTarget:
    """Where one GPU pool's (or host's) pods run, and what GPU they should find."""

    pool: str
    model: str
    count: int
    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]] = field(default_factory=list)


def _toleration(key: str, value: str, effect: str) -> dict[str, Any]:
    if value:
        return {"key": key, "operator": "Equal", "value": value, "effect": effect}
    return {"key": key, "operator": "Exists", "effect": effect}


def gpu_targets(spec: Spec, infra: Any = None) -> list[GpuTarget]:
    """One target per GPU pool; `infra` is the applied `InfraOutputs`, or None.

    Raises:
        KeyError: the spec's target has no stack (never for a validated spec).
    """
    if infra is None:
        infra = _stacks.for_spec(spec).pending_outputs()
    return [
        GpuTarget(
            pool.name,
            pool.gpu_model,
            pool.gpu_count,
            dict(pool.labels),
            [
                _toleration(t["key"], t.get("value", ""), t.get("effect", "NoSchedule"))
                for t in pool.taints
            ],
        )
        for pool in infra.gpu_pools
    ]
