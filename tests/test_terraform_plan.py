"""`terraform plan` of GKE and AKS roots: what the clouds would be asked to create.

The real Terraform evaluates kfstack's modules on the stack's actual inputs (every
`for_each`, `dynamic` block, conditional and default) against the stand-in providers
(`standin_provider`: real schemas, computed values left unknown as a real plan leaves
them). The GPU choices are asserted on the planned resources, for every GPU model each
catalog offers.
"""

from __future__ import annotations

import pytest
import terraform_run
from cloud_specs import azure_spec, cheapest, gcp_spec, pool_name, regions_for

import stacks
from installer import catalog

pytestmark = pytest.mark.integration

POOL_GKE = 'module.gke.google_container_node_pool.this["{}"]'
POOL_AKS = 'module.aks.azurerm_kubernetes_cluster_node_pool.this["{}"]'
GKE = "module.gke.google_container_cluster.this"
AKS = "module.aks.azurerm_kubernetes_cluster.this"
LABELS = {"kfstack.io/role": "gpu"}


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    yield from terraform_run.standin_session(tmp_path_factory)


def _plan(spec, standin, tmp_path) -> dict[str, dict]:
    stacks.for_spec(spec).write(tmp_path)
    return terraform_run.plan(tmp_path, standin)


@pytest.mark.parametrize("spot", [False, True], ids=["on-demand", "spot"])
def test_gke_plans_each_catalog_gpu_with_its_accelerator_driver_taint_and_bounds(
    spot, standin, tmp_path
):
    for index, (region, models) in enumerate(regions_for("gcp")):
        planned = _plan(gcp_spec(region, models, spot=spot), standin, tmp_path / str(index))
        for model in models:
            name = pool_name("gcp", model)
            instance = cheapest("gcp", model, region)
            pool = planned[POOL_GKE.format(name)]
            config = pool["node_config"][0]

            assert config["machine_type"] == instance.name
            assert config["guest_accelerator"] == [
                {
                    "type": catalog.load().gpus[model].gcp_accelerator,
                    "count": instance.gpu_count,
                    "gpu_driver_installation_config": [{"gpu_driver_version": "DEFAULT"}],
                    "gpu_partition_size": None,
                    "gpu_sharing_config": [],
                }
            ]
            assert config["taint"] == [
                {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
            ]
            assert config["labels"]["kfstack.io/gpu-model"] == model
            assert config["labels"]["kfstack.io/gpu-count"] == str(instance.gpu_count)
            assert config["spot"] is spot
            assert pool["autoscaling"] == [
                {
                    "total_min_node_count": 0,
                    "total_max_node_count": 4,
                    "min_node_count": None,
                    "max_node_count": None,
                    "location_policy": "ANY",
                }
            ]
            assert pool["initial_node_count"] == 0
            assert pool["node_locations"] == [catalog.load().cloud("gcp").regions[region][0]]


def test_a_gke_cpu_pool_has_no_accelerator_and_balances_across_zones(standin, tmp_path):
    planned = _plan(gcp_spec("us-central1", []), standin, tmp_path)
    system = planned[POOL_GKE.format("system")]
    assert system["node_config"][0]["guest_accelerator"] == []
    assert system["node_config"][0]["taint"] == []
    assert system["autoscaling"][0]["location_policy"] == "BALANCED"
    assert system["management"] == [{"auto_repair": True, "auto_upgrade": True}]


def test_the_gke_cluster_plan_follows_the_spec(standin, tmp_path):
    spec = gcp_spec("us-central1", ["L4"], rwx=True, deletion_protection=True)
    cluster = _plan(spec, standin, tmp_path)[GKE]

    assert cluster["name"] == "mx-test"
    assert cluster["location"] == "us-central1"
    assert cluster["deletion_protection"] is True
    assert cluster["remove_default_node_pool"] is True
    assert cluster["networking_mode"] == "VPC_NATIVE"
    assert cluster["datapath_provider"] == "ADVANCED_DATAPATH"
    assert cluster["release_channel"] == [{"channel": "REGULAR"}]
    assert cluster["min_master_version"] is None
    assert cluster["workload_identity_config"] == [{"workload_pool": "acme-ml-test.svc.id.goog"}]
    addons = cluster["addons_config"][0]
    assert addons["gcp_filestore_csi_driver_config"] == [{"enabled": True}]
    assert addons["gce_persistent_disk_csi_driver_config"] == [{"enabled": True}]


def test_a_pinned_gke_cluster_pins_every_pool_and_turns_auto_upgrade_off(standin, tmp_path):
    spec = gcp_spec("us-central1", ["T4"], channel="UNSPECIFIED", deletion_protection=False)
    planned = _plan(spec, standin, tmp_path)

    # The stand-in answers google_container_engine_versions with "<prefix>0-standin".
    assert planned[GKE]["min_master_version"] == "1.34.0-standin"
    assert planned[GKE]["deletion_protection"] is False
    for pool in ("system", pool_name("gcp", "T4")):
        assert planned[POOL_GKE.format(pool)]["version"] == "1.34.0-standin"
        assert planned[POOL_GKE.format(pool)]["management"][0]["auto_upgrade"] is False


def test_an_existing_gke_network_creates_no_network_and_uses_its_ranges(standin, tmp_path):
    planned = _plan(gcp_spec("us-central1", [], existing_network=True), standin, tmp_path)
    assert not [address for address in planned if address.startswith("module.network.")]
    cluster = planned[GKE]
    assert (cluster["network"], cluster["subnetwork"]) == ("shared-vpc", "kubeflow-nodes")
    assert cluster["ip_allocation_policy"][0]["cluster_secondary_range_name"] == "kubeflow-pods"


@pytest.mark.parametrize("spot", [False, True], ids=["on-demand", "spot"])
def test_aks_plans_each_catalog_gpu_with_its_size_driver_taints_and_bounds(
    spot, standin, tmp_path
):
    for index, (region, models) in enumerate(regions_for("azure")):
        planned = _plan(azure_spec(region, models, spot=spot), standin, tmp_path / str(index))
        for model in models:
            pool = planned[POOL_AKS.format(pool_name("azure", model))]
            instance = cheapest("azure", model, region)

            assert pool["vm_size"] == instance.name
            assert pool["gpu_driver"] == "Install"
            assert pool["mode"] == "User"
            assert pool["node_taints"] == ["nvidia.com/gpu=present:NoSchedule"] + (
                ["kubernetes.azure.com/scalesetpriority=spot:NoSchedule"] if spot else []
            )
            assert pool["node_labels"]["kfstack.io/gpu-model"] == model
            assert pool["node_labels"]["kfstack.io/gpu-count"] == str(instance.gpu_count)
            assert pool["auto_scaling_enabled"] is True
            assert (pool["min_count"], pool["max_count"], pool["node_count"]) == (0, 4, 0)
            assert pool["zones"] == ["1"]
            if spot:
                assert (pool["priority"], pool["eviction_policy"], pool["spot_max_price"]) == (
                    "Spot",
                    "Delete",
                    -1,
                )
            else:
                assert (pool["priority"], pool["eviction_policy"], pool["spot_max_price"]) == (
                    "Regular",
                    None,
                    None,
                )


def test_the_aks_cluster_plan_follows_the_spec(standin, tmp_path):
    planned = _plan(azure_spec("eastus", ["T4"], snapshots=True), standin, tmp_path)
    cluster = planned[AKS]

    assert cluster["oidc_issuer_enabled"] is True
    assert cluster["workload_identity_enabled"] is True
    default = cluster["default_node_pool"][0]
    assert default["only_critical_addons_enabled"] is True
    assert (default["name"], default["min_count"], default["max_count"]) == ("critical", 1, 3)
    assert default["zones"] == ["1", "2", "3"]
    storage = cluster["storage_profile"][0]
    assert (storage["disk_driver_enabled"], storage["file_driver_enabled"]) == (True, True)
    assert storage["snapshot_controller_enabled"] is True
    network = cluster["network_profile"][0]
    assert (network["network_plugin_mode"], network["network_policy"]) == ("overlay", "cilium")
    system = planned[POOL_AKS.format("system")]
    assert "gpu_driver" in system and system["gpu_driver"] is None
    assert system["node_count"] == 2
    assert planned["azurerm_resource_group.this"]["name"] == "mx-test"


def test_an_existing_aks_subnet_creates_no_network(standin, tmp_path):
    planned = _plan(azure_spec("eastus", [], existing_network=True), standin, tmp_path)
    assert not [address for address in planned if address.startswith("module.network.")]
    subnet = planned[AKS]["default_node_pool"][0]["vnet_subnet_id"]
    assert subnet.endswith("/virtualNetworks/hub/subnets/aks-nodes")
