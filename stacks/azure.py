"""AKS: a resource group, the node network, and an AKS cluster with one pool per spec pool.

The root configuration (`main.tf.json`) configures the azurerm provider, creates the
resource group, and calls two HCL modules with typed inputs derived from the spec:

    azurerm_resource_group.this             <name>-<environment> unless azure.resource_group
    module.network (modules/azure-network)  new VNet + node subnet, or the existing subnet id
    module.aks     (modules/azure-aks)      cluster (OIDC issuer, workload identity, Disk and
                                            Files CSI, snapshot controller when asked), a
                                            critical-add-ons-only system pool, and one user
                                            pool per spec pool

AKS's default pool can only run critical add-ons once Kubeflow shares the cluster, so the
spec's `role: system` pool becomes a user pool like the others and the critical pool is
sized by `azure.system_pool` (by default the catalog's default VM size, 1 to 3 nodes).

GPU drivers: AKS installs them (`gpu_driver = "Install"`), the same division of labour as
GKE, so `gpu_pools[].driver` is "platform" and the GPU operator's driver stays off.

Kubeconfig retrieval lists the cluster's user (or admin) credentials through
`azure-identity` and `azure-mgmt-containerservice` (the `azure` extra, imported only
when used).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from installer import credentials
from installer.errors import CredentialsError, KfstackError, UserError
from installer.spec import rules as _rules
from installer.spec.model import AzureTarget, NodePool, Spec
from stacks import kubeconfig as _kubeconfig
from stacks import pools as _pools
from stacks.base import InfraOutputs, Stack, terraform_block

LOG = logging.getLogger("kfstack.stacks.azure")

PROVIDER_SOURCE = "hashicorp/azurerm"
# 4.0 renamed the arguments used here (auto_scaling_enabled, automatic_upgrade_channel);
# `gpu_driver` on node pools arrived in 4.40.0 (see Azure/terraform-azurerm-avm-res-
# containerservice-managedcluster#115, which raised its floor for the same reason). The
# offline schema the tests check is 4.55.
PROVIDER_VERSION = ">= 4.40, < 5.0"

SYSTEM_POOL_NAME = "critical"
GPU_DRIVER = "Install"
# AKS puts this taint on every spot node itself; listing it keeps plans free of drift.
SPOT_TAINT = {
    "key": "kubernetes.azure.com/scalesetpriority",
    "value": "spot",
    "effect": "NoSchedule",
}


class AzureStack(Stack):
    """The AKS target: `documents()` is pure (no cloud calls, no credentials)."""

    target = "azure"

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        if spec.azure is None:
            raise UserError("target is azure but the `azure:` block is missing", hint="add azure:")
        self.azure: AzureTarget = spec.azure

    @property
    def resource_group(self) -> str:
        return self.azure.resource_group or self.spec.full_name

    # ------------------------------------------------------------------ configuration

    def module_names(self) -> list[str]:
        return ["azure-network", "azure-aks"]

    def providers(self) -> dict[str, str]:
        return {PROVIDER_SOURCE: PROVIDER_VERSION}

    def documents(self) -> dict[str, dict[str, Any]]:
        spec, azure = self.spec, self.azure
        net = azure.network
        tags = {"kfstack.io/name": spec.name, "kfstack.io/environment": spec.environment}
        rg_name = "${azurerm_resource_group.this.name}"
        network_inputs: dict[str, Any] = {
            "source": "./modules/azure-network",
            "name": spec.full_name,
            "location": azure.location,
            "resource_group_name": rg_name,
            "tags": tags,
        }
        if net.existing:
            network_inputs["existing_subnet_id"] = net.subnet_id
        else:
            network_inputs |= {"cidr": net.cidr, "node_cidr": net.node_cidr}
        aks_inputs = {
            "source": "./modules/azure-aks",
            "name": spec.full_name,
            "location": azure.location,
            "resource_group_name": rg_name,
            "kubernetes_version": spec.kubernetes.version,
            "subnet_id": "${module.network.subnet_id}",
            "zones": list(azure.zones),
            "system_pool": {
                "name": SYSTEM_POOL_NAME,
                "vm_size": azure.system_pool.vm_size or _rules.DEFAULT_INSTANCE["azure"],
                "min": azure.system_pool.min,
                "max": azure.system_pool.max,
            },
            "node_pools": {pool.name: self._pool_input(pool) for pool in spec.node_pools},
            "disk_csi": True,
            "file_csi": True,
            "snapshot_controller": spec.storage.snapshots,
            "tags": tags,
        }
        gpu_pools = [p.model_dump() for p in _pools.gpu_pool_outputs(self.spec, self._taints)]
        terraform = terraform_block(spec, {"azurerm": (PROVIDER_SOURCE, PROVIDER_VERSION)})
        return {
            "main.tf.json": {
                "terraform": terraform,
                "provider": {
                    "azurerm": {"subscription_id": azure.subscription_id, "features": {}}
                },
                "resource": {
                    "azurerm_resource_group": {
                        "this": {
                            "name": self.resource_group,
                            "location": azure.location,
                            "tags": tags,
                        }
                    }
                },
                "module": {"network": network_inputs, "aks": aks_inputs},
                "output": {
                    "cluster_name": _pools.output(
                        "${module.aks.cluster_name}", "AKS cluster name"
                    ),
                    "endpoint": _pools.output("${module.aks.endpoint}", "API server URL"),
                    "ca_data": _pools.output("${module.aks.ca_data}", "cluster CA, base64 PEM"),
                    "oidc_issuer": _pools.output("${module.aks.oidc_issuer}", "OIDC issuer URL"),
                    "node_pools": _pools.output("${module.aks.node_pools}", "node pool names"),
                    "gpu_pools": _pools.output(gpu_pools, "GPU pools and who installs drivers"),
                    "region": _pools.output(azure.location, "Azure region of the cluster"),
                    "resource_group": _pools.output(rg_name, "resource group of the cluster"),
                },
            }
        }

    def _taints(self, pool: NodePool) -> list[dict[str, str]]:
        taints = [
            {"key": t.key, "value": t.value, "effect": t.effect} for t in pool.effective_taints
        ]
        if pool.spot and SPOT_TAINT not in taints:
            taints.append(dict(SPOT_TAINT))
        return taints

    def _pool_input(self, pool: NodePool) -> dict[str, Any]:
        value: dict[str, Any] = {
            "vm_size": pool.instance_type,
            "min": pool.min,
            "max": pool.max,
            "desired": pool.effective_desired,
            "spot": pool.spot,
            "disk_gb": pool.disk_gb,
            "zones": list(pool.zones),
            "labels": _pools.pool_labels(pool),
            "taints": [_taint_string(t) for t in self._taints(pool)],
        }
        if pool.gpu is not None:
            value["gpu_driver"] = GPU_DRIVER
        return value

    def check_access(self) -> None:
        """Look for Azure credentials offline (`installer.credentials`), so a run that
        could never authenticate stops before terraform with the command that fixes it.

        Raises:
            CredentialsError: none of the sources the provider reads is present.
        """
        credentials.require(credentials.detect_azure())

    def pending_outputs(self) -> InfraOutputs:
        return InfraOutputs(
            target=self.target,
            cluster_name=self.spec.full_name,
            region=self.azure.location,
            node_pools=[SYSTEM_POOL_NAME] + [pool.name for pool in self.spec.node_pools],
            gpu_pools=_pools.gpu_pool_outputs(self.spec, self._taints),
        )

    # ------------------------------------------------------------------ kubeconfig

    def write_kubeconfig(self, outputs: InfraOutputs, dest: Path, *, admin: bool = False) -> Path:
        """List the cluster's user credentials (admin ones when `admin`) and write them.

        Raises:
            UserError: the `azure` extra is not installed.
            CredentialsError: no Azure credentials, or the caller may not list them.
            KfstackError: the cluster does not exist or the API call failed.
        """
        name = outputs.cluster_name or self.spec.full_name
        group = getattr(outputs, "resource_group", None) or self.resource_group
        raw = list_credentials(self.azure.subscription_id, group, name, admin=admin)
        try:
            config = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise KfstackError(f"AKS returned a kubeconfig that is not YAML ({exc})") from None
        if not isinstance(config, dict) or not config.get("clusters"):
            raise KfstackError(f"AKS returned an empty kubeconfig for {group}/{name}")
        return _kubeconfig.write(config, dest)


def _import(module: str) -> Any:
    return _kubeconfig.import_extra(
        module,
        extra="azure",
        needs="reading an AKS cluster needs azure-identity and azure-mgmt-containerservice",
    )


def list_credentials(
    subscription_id: str,
    resource_group: str,
    name: str,
    *,
    admin: bool = False,
    client: Any = None,
) -> bytes:
    """The first kubeconfig AKS returns for the cluster, as bytes.

    `client` is a `ContainerServiceClient`; by default one with `DefaultAzureCredential`.

    Raises:
        UserError: azure-identity / azure-mgmt-containerservice are not installed.
        CredentialsError: no usable credentials, or access denied.
        KfstackError: the cluster is missing or the API failed.
    """
    exceptions = _import("azure.core.exceptions")
    if client is None:
        identity = _import("azure.identity")
        mgmt = _import("azure.mgmt.containerservice")
        client = mgmt.ContainerServiceClient(identity.DefaultAzureCredential(), subscription_id)
    kind = "admin" if admin else "user"
    where = f"{resource_group}/{name}"
    LOG.info("listing %s credentials of AKS cluster %s", kind, where)
    clusters = client.managed_clusters
    try:
        if admin:
            result = clusters.list_cluster_admin_credentials(resource_group, name)
        else:
            result = clusters.list_cluster_user_credentials(resource_group, name)
    except exceptions.ResourceNotFoundError:
        raise KfstackError(
            f"AKS cluster {where} does not exist",
            hint="run `kfstack up` (or check azure.resource_group and the subscription)",
        ) from None
    except exceptions.ClientAuthenticationError as exc:
        raise CredentialsError(
            f"no usable Azure credentials for AKS cluster {where}: {_first_line(exc)}",
            hint="run `az login` or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET",
        ) from None
    except exceptions.HttpResponseError as exc:
        if exc.status_code == 403:
            role = "Admin" if admin else "User"
            raise CredentialsError(
                f"not allowed to list {kind} credentials of AKS cluster {where}",
                hint=f"grant the Azure Kubernetes Service Cluster {role} Role on the cluster",
            ) from None
        raise KfstackError(f"listing credentials of AKS cluster {where} failed: {exc}") from None
    kubeconfigs = list(result.kubeconfigs or [])
    if not kubeconfigs or not kubeconfigs[0].value:
        raise KfstackError(f"AKS returned no {kind} kubeconfig for {where}")
    return bytes(kubeconfigs[0].value)


def _taint_string(taint: dict[str, str]) -> str:
    return f"{taint['key']}={taint['value']}:{taint['effect']}"


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


STACK_CLASS = AzureStack
