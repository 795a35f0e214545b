"""GPU pools on GKE and AKS, for every GPU model each catalog offers.

The module inputs kfstack derives from the spec (accelerator type and count, driver
setting, taint, autoscaling bounds, labels, spot) and the GPU pools it reports to the
platform layer. What the modules make of these inputs is asserted on real Terraform
plans in test_terraform_plan.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tf_schema
from cloud_specs import azure_spec, cheapest, gcp_spec, gpu_models, pool_name, regions_for
from conftest import REPO

from installer import catalog
from installer.errors import UserError
from stacks import azure, gcp

GPU_TAINT_K8S = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def _region_of(cloud: str, model: str) -> str:
    return next(region for region, models in regions_for(cloud) if model in models)


def _resource(module: str, rtype: str) -> dict:
    doc = tf_schema.load_hcl(Path(REPO, "modules", module, "main.tf"))
    for entry in doc["resource"]:
        for key, named in entry.items():
            if key.strip('"') == rtype:
                return next(iter(named.values()))
    raise AssertionError(f"{rtype} not in modules/{module}/main.tf")


def _dynamic(body: dict, name: str) -> dict:
    for entry in body["dynamic"]:
        for key, spec in entry.items():
            if key.strip('"') == name:
                return spec
    raise AssertionError(f"no dynamic {name} block")


# ---------------------------------------------------------------------------- GKE


@pytest.mark.parametrize("spot", [False, True], ids=["on-demand", "spot"])
@pytest.mark.parametrize("model", gpu_models("gcp"))
def test_a_gke_gpu_pool_carries_the_accelerator_driver_taint_bounds_and_labels(model, spot):
    region = _region_of("gcp", model)
    spec = gcp_spec(region, [model], spot=spot)
    stack = gcp.GcpStack(spec)
    name = pool_name("gcp", model)
    instance = cheapest("gcp", model, region)
    gpu = catalog.load().gpus[model]

    pool = stack.documents()["main.tf.json"]["module"]["gke"]["node_pools"][name]

    assert pool["machine_type"] == instance.name
    assert pool["gpu"]["type"] == gpu.gcp_accelerator
    assert pool["gpu"]["count"] == instance.gpu_count
    assert pool["gpu"]["driver_version"] == "DEFAULT"
    assert pool["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
    ]
    assert (pool["min"], pool["max"], pool["initial"]) == (0, 4, 0)
    assert pool["spot"] is spot
    assert pool["labels"] == {
        "kfstack.io/pool": name,
        "kfstack.io/role": "gpu",
        "kfstack.io/gpu-model": model,
        "kfstack.io/gpu-count": str(instance.gpu_count),
    }
    (out,) = stack.pending_outputs().gpu_pools
    assert (out.name, out.gpu_model, out.gpu_count, out.driver) == (
        name,
        model,
        instance.gpu_count,
        "platform",
    )
    assert out.taints == [GPU_TAINT_K8S]
    assert out.labels == pool["labels"]


def test_a_model_without_a_gke_accelerator_is_refused_with_the_next_step():
    offered_elsewhere = [m for m, g in catalog.load().gpus.items() if g.gcp_accelerator is None]
    assert offered_elsewhere, "the catalog has no model missing on GKE any more"
    with pytest.raises(UserError) as caught:
        gcp.accelerator_type(offered_elsewhere[0])
    assert caught.value.exit_code == 2
    assert "kfstack catalog" in caught.value.hint


# ---------------------------------------------------------------------------- AKS


@pytest.mark.parametrize("spot", [False, True], ids=["on-demand", "spot"])
@pytest.mark.parametrize("model", gpu_models("azure"))
def test_an_aks_gpu_pool_carries_the_size_driver_taints_bounds_and_labels(model, spot):
    region = _region_of("azure", model)
    spec = azure_spec(region, [model], spot=spot)
    stack = azure.AzureStack(spec)
    name = pool_name("azure", model)
    instance = cheapest("azure", model, region)

    pool = stack.documents()["main.tf.json"]["module"]["aks"]["node_pools"][name]

    assert pool["vm_size"] == instance.name
    assert pool["gpu_driver"] == "Install"
    expected_taints = ["nvidia.com/gpu=present:NoSchedule"]
    if spot:
        expected_taints.append("kubernetes.azure.com/scalesetpriority=spot:NoSchedule")
    assert pool["taints"] == expected_taints
    assert (pool["min"], pool["max"]) == (0, 4)
    assert pool["spot"] is spot
    assert pool["labels"] == {
        "kfstack.io/pool": name,
        "kfstack.io/role": "gpu",
        "kfstack.io/gpu-model": model,
        "kfstack.io/gpu-count": str(instance.gpu_count),
    }
    (out,) = stack.pending_outputs().gpu_pools
    assert (out.gpu_model, out.gpu_count, out.driver) == (model, instance.gpu_count, "platform")
    # The platform layer needs every taint, AKS's spot taint included, for tolerations.
    assert out.taints[0] == GPU_TAINT_K8S
    assert len(out.taints) == (2 if spot else 1)


def test_a_cpu_pool_gets_no_gpu_driver_setting_or_taint():
    spec = azure_spec("eastus", [])
    pool = azure.AzureStack(spec).documents()["main.tf.json"]["module"]["aks"]["node_pools"]
    assert "gpu_driver" not in pool["system"]
    assert pool["system"]["taints"] == []
