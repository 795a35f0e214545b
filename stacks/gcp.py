"""GKE: a VPC-native network and a regional GKE Standard cluster with one pool per spec pool.

The root configuration (`main.tf.json`) only configures the google provider and calls two
HCL modules with typed inputs derived from the spec:

    module.network (modules/gcp-network)  new VPC + subnetwork + secondary ranges + NAT,
                                          or the existing network's names passed through
    module.gke     (modules/gcp-gke)      cluster (channel or pinned version, Workload
                                          Identity, Filestore CSI when storage.rwx),
                                          default pool removed, one node pool per spec pool

Choices made here rather than in HCL, because they need the catalog or the spec:
the accelerator type of each GPU model (the catalog's `gcp` name), the driver version GKE
installs, kfstack's node labels, and GKE's spelling of taint effects.

Kubeconfig retrieval reads the cluster through `google-cloud-container` (the `gcp` extra,
imported only when used) and authenticates kubectl through `gke-gcloud-auth-plugin`, as
`gcloud container clusters get-credentials` does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from installer import catalog as _catalog
from installer import credentials
from installer.errors import CredentialsError, KfstackError, UserError
from installer.spec.model import GcpTarget, NodePool, Spec
from stacks import kubeconfig as _kubeconfig
from stacks import pools as _pools
from stacks.base import InfraOutputs, Stack, terraform_block

LOG = logging.getLogger("kfstack.stacks.gcp")

PROVIDER_SOURCE = "hashicorp/google"
# Every argument used here exists throughout 6.x (deletion_protection arrived in 5.0);
# the offline schema the tests check is 6.50. 7.x is admitted, as Google's own GKE
# modules do, but no 7.x schema is checked here: pin `< 7.0` if a 7.x plan disagrees.
PROVIDER_VERSION = ">= 6.0, < 8.0"

CLUSTER_ADDRESS = "module.gke.google_container_cluster.this"

_TAINT_EFFECTS = {
    "NoSchedule": "NO_SCHEDULE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
}

# GKE installs the NVIDIA driver itself (gpu_driver_installation_config), so the
# platform layer never does. DEFAULT is the driver GKE qualified for the node's GKE
# version, for every GPU that version supports; LATEST would follow GKE's newest branch
# and move under running workloads on node upgrades, which a platform should choose
# deliberately, not by default. The module accepts either.
DRIVER_VERSION = "DEFAULT"

GKE_AUTH_PLUGIN = "gke-gcloud-auth-plugin"


class GcpStack(Stack):
    """The GKE target: `documents()` is pure (no cloud calls, no credentials)."""

    target = "gcp"

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        if spec.gcp is None:
            raise UserError("target is gcp but the `gcp:` block is missing", hint="add gcp:")
        self.gcp: GcpTarget = spec.gcp
        # Lifted only by destroy_prepare(); the spec itself is never changed.
        self._deletion_protection = spec.gcp.deletion_protection

    # ------------------------------------------------------------------ configuration

    def module_names(self) -> list[str]:
        return ["gcp-network", "gcp-gke"]

    def providers(self) -> dict[str, str]:
        return {PROVIDER_SOURCE: PROVIDER_VERSION}

    def documents(self) -> dict[str, dict[str, Any]]:
        spec, gcp = self.spec, self.gcp
        net = gcp.network
        network_inputs: dict[str, Any] = {
            "source": "./modules/gcp-network",
            "project": gcp.project,
            "region": gcp.region,
            "name": spec.full_name,
        }
        if net.existing:
            network_inputs |= {
                "existing_network": net.network,
                "existing_subnetwork": net.subnetwork,
                "pods_range_name": net.pods_range_name,
                "services_range_name": net.services_range_name,
            }
        else:
            network_inputs |= {
                "cidr": net.cidr,
                "pods_cidr": net.pods_cidr,
                "services_cidr": net.services_cidr,
            }
        gke_inputs = {
            "source": "./modules/gcp-gke",
            "project": gcp.project,
            "location": gcp.region,
            "zones": list(gcp.zones),
            "name": spec.full_name,
            "kubernetes_version": spec.kubernetes.version,
            "release_channel": gcp.release_channel,
            "deletion_protection": self._deletion_protection,
            "network": "${module.network.network}",
            "subnetwork": "${module.network.subnetwork}",
            "pods_range_name": "${module.network.pods_range_name}",
            "services_range_name": "${module.network.services_range_name}",
            "filestore_csi": spec.storage.rwx,
            "node_pools": {pool.name: self._pool_input(pool) for pool in spec.node_pools},
        }
        gpu_pools = [p.model_dump() for p in _pools.gpu_pool_outputs(self.spec)]
        terraform = terraform_block(spec, {"google": (PROVIDER_SOURCE, PROVIDER_VERSION)})
        return {
            "main.tf.json": {
                "terraform": terraform,
                "provider": {"google": {"project": gcp.project, "region": gcp.region}},
                "module": {"network": network_inputs, "gke": gke_inputs},
                "output": {
                    "cluster_name": _pools.output(
                        "${module.gke.cluster_name}", "GKE cluster name"
                    ),
                    "endpoint": _pools.output("${module.gke.endpoint}", "API server URL"),
                    "ca_data": _pools.output("${module.gke.ca_data}", "cluster CA, base64 PEM"),
                    "oidc_issuer": _pools.output(
                        "${module.gke.oidc_issuer}", "service account token issuer"
                    ),
                    "workload_pool": _pools.output(
                        "${module.gke.workload_pool}", "Workload Identity pool"
                    ),
                    "node_pools": _pools.output("${module.gke.node_pools}", "node pool names"),
                    "gpu_pools": _pools.output(gpu_pools, "GPU pools and who installs drivers"),
                    "region": _pools.output(gcp.region, "region of the cluster"),
                    "project": _pools.output(gcp.project, "project of the cluster"),
                },
            }
        }

    def _pool_input(self, pool: NodePool) -> dict[str, Any]:
        # GKE counts a regional pool's initial nodes per zone; start at the desired total
        # spread over the zones, without exceeding the pool's maximum.
        zones = max(len(pool.zones or self.gcp.zones), 1)
        per_zone = min(math.ceil(pool.effective_desired / zones), pool.max // zones)
        value: dict[str, Any] = {
            "machine_type": pool.instance_type,
            "min": pool.min,
            "max": pool.max,
            "initial": per_zone,
            "spot": pool.spot,
            "disk_gb": pool.disk_gb,
            "zones": list(pool.zones),
            "labels": _pools.pool_labels(pool),
            "taints": [
                {"key": t.key, "value": t.value, "effect": _TAINT_EFFECTS[t.effect]}
                for t in pool.effective_taints
            ],
        }
        if pool.gpu is not None:
            value["gpu"] = {
                "type": accelerator_type(pool.gpu.model),
                "count": pool.gpu.count,
                "driver_version": DRIVER_VERSION,
            }
        return value

    def check_access(self) -> None:
        """Look for Google credentials offline (`installer.credentials`), so a run that
        could never authenticate stops before terraform with the command that fixes it.

        Raises:
            CredentialsError: none of the sources the provider reads is present.
        """
        credentials.require(credentials.detect_gcp())

    def pending_outputs(self) -> InfraOutputs:
        """Everything but the endpoint and CA is fixed by the spec; GKE's token issuer
        is a function of the cluster's resource path, the same the module outputs."""
        name, region = self.spec.full_name, self.gcp.region
        return InfraOutputs(
            target=self.target,
            cluster_name=name,
            region=region,
            oidc_issuer=f"https://container.googleapis.com/v1/projects/{self.gcp.project}"
            f"/locations/{region}/clusters/{name}",
            workload_pool=f"{self.gcp.project}.svc.id.goog",
            node_pools=[pool.name for pool in self.spec.node_pools],
            gpu_pools=_pools.gpu_pool_outputs(self.spec),
        )

    # ------------------------------------------------------------------ lifecycle

    def destroy_prepare(self, directory: Path, apply: Callable[[list[str]], None]) -> bool:
        """Lift `deletion_protection` so `terraform destroy` can delete the cluster.

        The flag lives only in Terraform state (GKE has no such API field), so the
        targeted apply changes no cloud resource. Does nothing when the spec already
        has protection off.
        """
        if not self.gcp.deletion_protection:
            return False
        self._deletion_protection = False
        try:
            self.write(directory)
            LOG.info("re-applying %s with deletion_protection=false", CLUSTER_ADDRESS)
            apply([f"-target={CLUSTER_ADDRESS}"])
        finally:
            self._deletion_protection = self.gcp.deletion_protection
        return True

    def write_kubeconfig(self, outputs: InfraOutputs, dest: Path) -> Path:
        """Read the cluster's endpoint and CA from the GKE API and write a kubeconfig.

        The user entry runs `gke-gcloud-auth-plugin`, which mints short-lived tokens from
        the caller's Google credentials; nothing long-lived is written.

        Raises:
            UserError: the `gcp` extra (google-cloud-container) is not installed.
            CredentialsError: no Application Default Credentials, or access denied.
            KfstackError: the cluster does not exist or the API call failed.
        """
        name = outputs.cluster_name or self.spec.full_name
        location = outputs.region or self.gcp.region
        cluster = get_cluster(self.gcp.project, location, name)
        endpoint = cluster["endpoint"]
        server = endpoint if endpoint.startswith("https://") else f"https://{endpoint}"
        context = f"gke_{self.gcp.project}_{location}_{name}"
        config = _kubeconfig.single_context(
            context,
            {"server": server, "certificate-authority-data": cluster["ca_data"]},
            {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": GKE_AUTH_PLUGIN,
                    "provideClusterInfo": True,
                    "interactiveMode": "IfAvailable",
                    "installHint": "gcloud components install gke-gcloud-auth-plugin "
                    "(or apt-get install google-cloud-cli-gke-gcloud-auth-plugin)",
                }
            },
        )
        return _kubeconfig.write(config, dest)


def accelerator_type(model: str) -> str:
    """GKE's guest accelerator type for a catalog GPU model.

    Raises:
        UserError: the model has no GKE accelerator in the catalog.
    """
    gpu = _catalog.load().gpus.get(model)
    if gpu is None or gpu.gcp_accelerator is None:
        raise UserError(
            f"GPU model {model} is not offered on GKE",
            hint="choose a model listed by `kfstack catalog` for gcp",
        )
    return gpu.gcp_accelerator


def _import(module: str) -> Any:
    return _kubeconfig.import_extra(
        module, extra="gcp", needs="reading a GKE cluster needs google-cloud-container"
    )


def get_cluster(project: str, location: str, name: str, *, client: Any = None) -> dict[str, str]:
    """Endpoint and CA of a GKE cluster, read through `google-cloud-container`.

    `client` is a `ClusterManagerClient`; by default one with Application Default
    Credentials.

    Raises:
        UserError: google-cloud-container is not installed (the `gcp` extra).
        CredentialsError: no usable credentials, or the caller may not read the cluster.
        KfstackError: the cluster is missing or the API failed.
    """
    exceptions = _import("google.api_core.exceptions")
    if client is None:
        container = _import("google.cloud.container_v1")
        auth_exceptions = _import("google.auth.exceptions")
        try:
            client = container.ClusterManagerClient()
        except auth_exceptions.DefaultCredentialsError as exc:
            raise CredentialsError(
                f"no Google credentials to read the GKE cluster ({exc})",
                hint="run `gcloud auth application-default login` "
                "or set GOOGLE_APPLICATION_CREDENTIALS",
            ) from None
    path = f"projects/{project}/locations/{location}/clusters/{name}"
    LOG.info("reading GKE cluster %s", path)
    try:
        cluster = client.get_cluster(name=path)
    except exceptions.NotFound:
        raise KfstackError(
            f"GKE cluster {path} does not exist",
            hint="run `kfstack up` (or check gcp.project and gcp.region)",
        ) from None
    except (
        exceptions.Forbidden,
        exceptions.PermissionDenied,
        exceptions.Unauthorized,
        exceptions.Unauthenticated,
    ) as exc:
        raise CredentialsError(
            f"not allowed to read GKE cluster {path}: {exc.message}",
            hint="grant roles/container.clusterViewer, or log in with "
            "`gcloud auth application-default login`",
        ) from None
    except exceptions.GoogleAPICallError as exc:
        raise KfstackError(f"reading GKE cluster {path} failed: {exc}") from None
    if not cluster.endpoint or not cluster.master_auth.cluster_ca_certificate:
        raise KfstackError(
            f"GKE cluster {path} has no endpoint yet (status {cluster.status.name})",
            hint="wait until it is RUNNING, then run the command again",
        )
    return {"endpoint": cluster.endpoint, "ca_data": cluster.master_auth.cluster_ca_certificate}


STACK_CLASS = GcpStack
