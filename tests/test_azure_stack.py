"""The AKS stack: what the spec decides in the generated root."""

from __future__ import annotations

import re

import yaml
from click.testing import CliRunner
from cloud_specs import SUBSCRIPTION, azure_spec

import stacks
from installer.cli import cli
from installer.spec import load_spec
from stacks import azure


def _doc(spec) -> dict:
    return azure.AzureStack(spec).documents()["main.tf.json"]


def test_the_azure_target_selects_the_aks_stack_with_the_subscription_provider(examples):
    stack = stacks.for_spec(load_spec(examples / "azure.yaml").spec)
    doc = stack.documents()["main.tf.json"]
    assert isinstance(stack, azure.AzureStack)
    assert stack.providers() == {"hashicorp/azurerm": ">= 4.40, < 5.0"}
    assert doc["provider"] == {"azurerm": {"subscription_id": SUBSCRIPTION, "features": {}}}


def test_the_resource_group_defaults_to_name_and_environment_and_can_be_named():
    assert (
        _doc(azure_spec("eastus", []))["resource"]["azurerm_resource_group"]["this"]["name"]
        == "mx-test"
    )
    spec = azure_spec("eastus", [])
    spec.azure.resource_group = "ml-rg"
    assert _doc(spec)["resource"]["azurerm_resource_group"]["this"]["name"] == "ml-rg"


def test_a_new_vnet_gets_the_spec_cidrs_and_an_existing_subnet_passes_through():
    new = _doc(azure_spec("eastus", []))["module"]["network"]
    existing = _doc(azure_spec("eastus", [], existing_network=True))["module"]["network"]
    assert (new["cidr"], new["node_cidr"]) == ("10.30.0.0/16", "10.30.0.0/20")
    assert existing["existing_subnet_id"].endswith("/virtualNetworks/hub/subnets/aks-nodes")
    assert "cidr" not in existing


def test_the_critical_system_pool_is_separate_from_the_spec_pools():
    aks = _doc(azure_spec("eastus", []))["module"]["aks"]
    assert aks["system_pool"]["name"] == "critical"
    assert aks["system_pool"]["vm_size"] == "Standard_D4s_v5"
    assert set(aks["node_pools"]) == {"system"}
    assert azure.AzureStack(azure_spec("eastus", [])).pending_outputs().node_pools == [
        "critical",
        "system",
    ]


def test_the_critical_pool_takes_its_size_and_bounds_from_azure_system_pool():
    spec = azure_spec("eastus", [])
    spec.azure.system_pool.vm_size = "Standard_D8s_v5"
    spec.azure.system_pool.min, spec.azure.system_pool.max = 2, 5
    system = _doc(spec)["module"]["aks"]["system_pool"]
    assert (system["vm_size"], system["min"], system["max"]) == ("Standard_D8s_v5", 2, 5)


def test_a_critical_pool_with_min_above_max_or_a_gpu_size_is_refused(tmp_path):
    system = [{"name": "system", "role": "system"}]
    bounds = _validate(tmp_path, system, system_pool={"min": 4, "max": 2})
    assert bounds.exit_code == 2, bounds.output
    assert "azure.system_pool" in bounds.output
    assert "min (4) is larger than max (2)" in bounds.output
    gpu = _validate(tmp_path, system, system_pool={"vm_size": "Standard_NC4as_T4_v3"})
    assert gpu.exit_code == 2, gpu.output
    assert "azure.system_pool.vm_size" in gpu.output and "Standard_D4s_v5" in gpu.output
    unknown = _validate(tmp_path, system, system_pool={"vm_size": "Standard_Made_Up"})
    assert unknown.exit_code == 0, unknown.output
    assert "not in the catalog" in unknown.output


def test_disk_and_files_csi_are_on_and_snapshots_follow_the_spec():
    plain = _doc(azure_spec("eastus", []))["module"]["aks"]
    snap = _doc(azure_spec("eastus", [], snapshots=True))["module"]["aks"]
    assert (plain["disk_csi"], plain["file_csi"], plain["snapshot_controller"]) == (
        True,
        True,
        False,
    )
    assert snap["snapshot_controller"] is True


# ---------------------------------------------------------------------------- spec rules


def _validate(tmp_path, pools: list[dict], **azure_extra):
    path = tmp_path / "kfstack.yaml"
    data = {
        "name": "ml",
        "target": "azure",
        "azure": {"subscription_id": SUBSCRIPTION, "location": "eastus", **azure_extra},
        "node_pools": pools,
    }
    path.write_text(yaml.safe_dump(data))
    return CliRunner().invoke(cli, ["validate", "-c", str(path)])


def test_a_pool_name_aks_cannot_use_is_refused_with_a_suggestion(tmp_path):
    result = _validate(
        tmp_path,
        [
            {"name": "system", "role": "system"},
            {"name": "gpu-t4", "gpu": {"model": "T4"}, "min": 0},
        ],
    )
    assert result.exit_code == 2, result.output
    assert "node_pools[1].name" in result.output
    assert "for example gput4" in result.output


def test_a_spot_system_pool_is_refused_on_aks(tmp_path):
    result = _validate(tmp_path, [{"name": "system", "role": "system", "spot": True}])
    assert result.exit_code == 2, result.output
    assert "node_pools[0].spot" in result.output


def test_the_aks_critical_pool_name_is_reserved(tmp_path):
    result = _validate(tmp_path, [{"name": "critical", "role": "system"}])
    assert result.exit_code == 2, result.output
    assert "node_pools[0].name" in result.output


def test_kfstack_init_names_aks_gpu_pools_the_way_aks_accepts():
    from installer.spec import author

    used = {"system"}
    names = []
    for model in ("T4", "A100-80GB", "A100-80GB", "H100-NVL"):
        names.append(author._gpu_pool_name(model, used, aks=True))
        used.add(names[-1])
    assert names == ["gput4", "gpua10080gb", "gpua10080gb2", "gpuh100nvl"]
    assert all(re.fullmatch(r"[a-z][a-z0-9]{0,11}", n) for n in names)


def test_an_azurerm_state_backend_is_written_into_the_root():
    spec = azure_spec("eastus", [])
    spec.state.backend = "azurerm"
    spec.state.storage_account = "kfstate"
    spec.state.container = "tfstate"
    spec.state.resource_group = "state-rg"
    backend = _doc(spec)["terraform"]["backend"]["azurerm"]
    assert backend["storage_account_name"] == "kfstate"
    assert backend["key"] == "mx/test/terraform.tfstate"
