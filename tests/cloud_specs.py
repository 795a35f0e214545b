"""Spec builders for the GKE and AKS test matrices, driven by the shipped catalog.

Every GPU model a cloud's catalog offers gets a pool; the region is the one offering the
most models, and a model missing there gets a spec of its own in a region that has it,
so a catalog change widens the matrix instead of silently skipping a model.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import yaml

from installer import catalog
from installer.spec import parse_spec
from installer.spec.model import Spec

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"

# Matrix rows: (spot, zones, existing network, rwx, snapshots).
KNOBS = ("spot", "zones", "existing", "rwx", "snap")
MATRIX = list(itertools.product([False, True], repeat=len(KNOBS)))
# A half fraction of it: every pair of knobs meets in all four states (rwx and snapshots
# follow from the other three), at a quarter of the rows.
HALF_MATRIX = [
    (spot, zones, existing, spot != zones, zones != existing)
    for spot in (False, True)
    for zones in (False, True)
    for existing in (False, True)
]


def row_id(row: tuple[bool, ...]) -> str:
    """A test id naming the knobs a matrix row turns on."""
    return "-".join(name for name, on in zip(KNOBS, row, strict=True) if on) or "plain"


def gpu_models(cloud: str) -> list[str]:
    """Every GPU model the cloud's catalog offers, in a stable order."""
    return sorted({i.gpu for i in catalog.load().cloud(cloud).gpu_instances() if i.gpu})


def pool_name(cloud: str, model: str) -> str:
    slug = re.sub(r"[^a-z0-9]", "", model.lower())
    # AKS pool names: 12 lower-case letters and digits at most.
    return f"g{slug}"[:12] if cloud == "azure" else f"gpu-{slug}"


def cheapest(cloud: str, model: str, region: str) -> catalog.Instance:
    """The instance kfstack picks for one pool of `model` in `region`."""
    offered = catalog.load().cloud(cloud).gpu_instances(model, region)
    count = min(i.gpu_count for i in offered)
    chosen = catalog.load().cloud(cloud).pick_instance(model, count, region)
    assert chosen is not None
    return chosen


def regions_for(cloud: str) -> list[tuple[str, list[str]]]:
    """(region, models) groups that together cover every GPU model of the cloud."""
    cat = catalog.load().cloud(cloud)
    remaining = gpu_models(cloud)
    groups = []
    while remaining:
        region = max(
            cat.regions,
            key=lambda r: (sum(1 for m in remaining if cat.gpu_instances(m, r)), r),
        )
        here = [m for m in remaining if cat.gpu_instances(m, region)]
        assert here, f"{remaining} offered nowhere in the {cloud} catalog"
        groups.append((region, here))
        remaining = [m for m in remaining if m not in here]
    return groups


def gpu_pool(cloud: str, model: str, region: str, *, spot: bool, zones: list[str]) -> dict:
    return {
        "name": pool_name(cloud, model),
        "gpu": {"model": model, "count": cheapest(cloud, model, region).gpu_count},
        "min": 0,
        "max": 4,
        "spot": spot,
        "zones": zones,
    }


def gcp_spec(
    region: str,
    models: list[str],
    *,
    spot: bool = False,
    zones: bool = True,
    existing_network: bool = False,
    rwx: bool = False,
    snapshots: bool = False,
    channel: str = "REGULAR",
    deletion_protection: bool = True,
) -> Spec:
    zone_list = catalog.load().cloud("gcp").regions[region][:3] if zones else []
    network: dict[str, Any] = {}
    if existing_network:
        network = {
            "network": "shared-vpc",
            "subnetwork": "kubeflow-nodes",
            "pods_range_name": "kubeflow-pods",
            "services_range_name": "kubeflow-services",
        }
    block = {
        "project": "acme-ml-test",
        "region": region,
        "zones": zone_list,
        "network": network,
        "release_channel": channel,
        "deletion_protection": deletion_protection,
    }
    return _spec("gcp", block, region, models, zone_list, spot=spot, rwx=rwx, snapshots=snapshots)


def azure_spec(
    region: str,
    models: list[str],
    *,
    spot: bool = False,
    zones: bool = True,
    existing_network: bool = False,
    rwx: bool = False,
    snapshots: bool = False,
) -> Spec:
    zone_list = ["1", "2", "3"] if zones else []
    network: dict[str, Any] = {}
    if existing_network:
        network = {
            "subnet_id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/net/providers/"
            "Microsoft.Network/virtualNetworks/hub/subnets/aks-nodes"
        }
    block = {
        "subscription_id": SUBSCRIPTION,
        "location": region,
        "zones": zone_list,
        "network": network,
    }
    return _spec(
        "azure", block, region, models, zone_list, spot=spot, rwx=rwx, snapshots=snapshots
    )


def _spec(
    cloud: str,
    block: dict,
    region: str,
    models: list[str],
    zones: list[str],
    *,
    spot: bool,
    rwx: bool,
    snapshots: bool,
) -> Spec:
    """A spec with a system pool and one GPU pool per model (in the first zone, if any)."""
    data = {
        "name": "mx",
        "environment": "test",
        "target": cloud,
        cloud: block,
        "node_pools": [{"name": "system", "role": "system", "min": 2, "max": 3}]
        + [gpu_pool(cloud, m, region, spot=spot, zones=zones[:1]) for m in models],
        "storage": {"rwx": rwx, "snapshots": snapshots},
    }
    return parse_spec(yaml.safe_dump(data), source=f"<{cloud} matrix>").spec
