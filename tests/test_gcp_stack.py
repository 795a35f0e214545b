"""The GKE stack: what the spec decides in the generated root, and the destroy hook."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from cloud_specs import gcp_spec

import stacks
from installer.cli import cli
from installer.spec import load_spec
from stacks import gcp
from stacks.base import InfraOutputs, Stack


def _module(spec, name: str) -> dict:
    return gcp.GcpStack(spec).documents()["main.tf.json"]["module"][name]


def test_the_gcp_target_selects_the_gke_stack(examples):
    stack = stacks.for_spec(load_spec(examples / "gcp.yaml").spec)
    assert isinstance(stack, gcp.GcpStack)
    assert stack.providers() == {"hashicorp/google": ">= 6.0, < 8.0"}
    assert stack.module_names() == ["gcp-network", "gcp-gke"]


def test_the_provider_is_configured_from_the_spec_project_and_region(examples):
    doc = stacks.for_spec(load_spec(examples / "gcp.yaml").spec).documents()["main.tf.json"]
    assert doc["provider"] == {"google": {"project": "acme-ml-staging", "region": "us-central1"}}
    assert doc["terraform"]["required_providers"]["google"]["version"] == ">= 6.0, < 8.0"


def test_a_new_network_gets_the_spec_cidrs_and_an_existing_one_passes_its_names():
    new = _module(gcp_spec("us-central1", []), "network")
    existing = _module(gcp_spec("us-central1", [], existing_network=True), "network")

    assert (new["cidr"], new["pods_cidr"], new["services_cidr"]) == (
        "10.10.0.0/20",
        "10.20.0.0/14",
        "10.24.0.0/20",
    )
    assert "existing_network" not in new
    assert existing["existing_network"] == "shared-vpc"
    assert existing["existing_subnetwork"] == "kubeflow-nodes"
    assert existing["pods_range_name"] == "kubeflow-pods"
    assert existing["services_range_name"] == "kubeflow-services"
    assert "cidr" not in existing


def test_the_cluster_follows_the_release_channel_or_pins_the_version():
    channel = _module(gcp_spec("us-central1", [], channel="STABLE"), "gke")
    pinned = _module(gcp_spec("us-central1", [], channel="UNSPECIFIED"), "gke")
    assert channel["release_channel"] == "STABLE"
    assert pinned["release_channel"] == "UNSPECIFIED"
    assert pinned["kubernetes_version"] == "1.34"


def test_filestore_csi_follows_storage_rwx():
    assert _module(gcp_spec("us-central1", [], rwx=True), "gke")["filestore_csi"] is True
    assert _module(gcp_spec("us-central1", [], rwx=False), "gke")["filestore_csi"] is False


def test_the_system_pool_starts_with_its_minimum_spread_over_the_zones():
    pools = _module(gcp_spec("us-central1", []), "gke")["node_pools"]
    # GKE counts initial nodes per zone: a minimum of 1 over 3 zones rounds up to one
    # node in each zone, which the maximum (3) still allows.
    assert pools["system"]["initial"] == 1
    assert pools["system"]["labels"]["kfstack.io/role"] == "system"
    assert pools["system"]["taints"] == []


def test_the_root_outputs_are_the_fields_of_infra_outputs(examples):
    stack = stacks.for_spec(load_spec(examples / "gcp.yaml").spec)
    outputs = stack.documents()["main.tf.json"]["output"]
    for field in ("cluster_name", "endpoint", "ca_data", "oidc_issuer", "node_pools", "region"):
        assert field in outputs and field in InfraOutputs.model_fields
    # What `terraform output -json` would print after apply parses into the contract.
    applied = {name: {"value": out["value"]} for name, out in outputs.items()}
    applied |= {
        "cluster_name": {"value": "ml-platform-staging"},
        "endpoint": {"value": "https://34.118.2.17"},
        "ca_data": {"value": "TFMwdA=="},
        "oidc_issuer": {"value": "https://container.googleapis.com/v1/projects/p/x"},
        "node_pools": {"value": ["system", "gpu-l4", "gpu-a100"]},
    }
    parsed = InfraOutputs.from_terraform("gcp", applied)
    assert [p.name for p in parsed.gpu_pools] == ["gpu-l4", "gpu-a100"]
    assert {p.driver for p in parsed.gpu_pools} == {"platform"}
    assert parsed.region == "us-central1"


def test_write_lays_out_a_self_contained_root_deterministically(examples, tmp_path):
    stack = stacks.for_spec(load_spec(examples / "gcp.yaml").spec)
    stack.write(tmp_path / "a")
    stack.write(tmp_path / "b")
    for module in ("gcp-network", "gcp-gke"):
        assert (tmp_path / "a" / "modules" / module / "main.tf").is_file()
    first = (tmp_path / "a" / "main.tf.json").read_text()
    assert first == (tmp_path / "b" / "main.tf.json").read_text()
    for call in json.loads(first)["module"].values():
        assert (tmp_path / "a" / call["source"]).is_dir()


# ---------------------------------------------------------------------------- destroy


def test_destroy_prepare_reapplies_the_cluster_with_protection_off(tmp_path):
    spec = gcp_spec("us-central1", [], deletion_protection=True)
    stack = gcp.GcpStack(spec)
    stack.write(tmp_path)
    seen: list[tuple[list[str], bool]] = []

    def apply(args: list[str]) -> None:
        doc = json.loads((tmp_path / "main.tf.json").read_text())
        seen.append((args, doc["module"]["gke"]["deletion_protection"]))

    assert stack.destroy_prepare(tmp_path, apply) is True

    assert seen == [(["-target=module.gke.google_container_cluster.this"], False)]
    # The spec keeps its value; later renders protect again.
    assert spec.gcp.deletion_protection is True
    assert stack.documents()["main.tf.json"]["module"]["gke"]["deletion_protection"] is True


def test_destroy_prepare_does_nothing_when_the_spec_has_protection_off(tmp_path):
    stack = gcp.GcpStack(gcp_spec("us-central1", [], deletion_protection=False))
    called = []
    assert stack.destroy_prepare(tmp_path, called.append) is False
    assert called == []
    assert not (tmp_path / "main.tf.json").exists()


def test_a_failed_reapply_leaves_the_stack_protecting_again(tmp_path):
    stack = gcp.GcpStack(gcp_spec("us-central1", [], deletion_protection=True))

    def apply(args):
        raise RuntimeError("terraform failed")

    with pytest.raises(RuntimeError):
        stack.destroy_prepare(tmp_path, apply)
    assert stack.documents()["main.tf.json"]["module"]["gke"]["deletion_protection"] is True


def test_the_base_stack_has_nothing_to_lift_before_destroy(tmp_path):
    class Bare(Stack):
        def documents(self):
            return {}

    bare = Bare(gcp_spec("us-central1", []))
    assert bare.destroy_prepare(tmp_path, lambda args: None) is False
    with pytest.raises(NotImplementedError):
        bare.write_kubeconfig(InfraOutputs(target="gcp"), tmp_path / "kubeconfig")


# ---------------------------------------------------------------------------- spec rules


def _validate(tmp_path, data: dict):
    path = tmp_path / "kfstack.yaml"
    path.write_text(yaml.safe_dump(data))
    return CliRunner().invoke(cli, ["validate", "-c", str(path)])


def _gcp(network: dict) -> dict:
    return {
        "name": "ml",
        "target": "gcp",
        "gcp": {"project": "acme-ml-test", "region": "us-central1", "network": network},
    }


def test_an_existing_network_without_its_ranges_is_refused_naming_the_field(tmp_path):
    result = _validate(tmp_path, _gcp({"network": "vpc", "subnetwork": "nodes"}))
    assert result.exit_code == 2, result.output
    assert "gcp.network.pods_range_name" in result.output
    assert "gcp.network.services_range_name" in result.output
    assert "Traceback" not in result.output


def test_ranges_without_a_network_are_refused(tmp_path):
    result = _validate(tmp_path, _gcp({"subnetwork": "nodes"}))
    assert result.exit_code == 2, result.output
    assert "gcp.network.network" in result.output


def test_a_cluster_name_longer_than_gke_allows_is_refused(tmp_path):
    data = _gcp({}) | {"name": "a" * 30, "environment": "staging-eu-west"}
    result = _validate(tmp_path, data)
    assert result.exit_code == 2, result.output
    assert "longer than the 40 characters gcp allows" in result.output


def test_the_token_issuer_and_workload_pool_are_known_before_apply(examples):
    outputs = stacks.for_spec(load_spec(examples / "gcp.yaml").spec).pending_outputs()
    assert outputs.oidc_issuer == (
        "https://container.googleapis.com/v1/projects/acme-ml-staging"
        "/locations/us-central1/clusters/ml-platform-staging"
    )
    assert outputs.workload_pool == "acme-ml-staging.svc.id.goog"
    assert outputs.endpoint is None and outputs.ca_data is None


def test_the_state_backend_follows_the_spec(examples):
    doc = stacks.for_spec(load_spec(examples / "gcp.yaml").spec).documents()["main.tf.json"]
    assert doc["terraform"]["backend"] == {
        "gcs": {"bucket": "acme-tf-state", "prefix": "ml-platform/staging"}
    }
    local = gcp.GcpStack(gcp_spec("us-central1", [])).documents()["main.tf.json"]
    assert "backend" not in local["terraform"]
