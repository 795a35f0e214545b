"""The EKS stack: spec → a Terraform root calling `modules/aws-vpc`, `aws-eks`, `aws-efs`.

    main.tf.json
    ├── terraform   required AWS provider (>= 5.100, < 7.0), backend (local or s3)
    ├── provider    aws, region from the spec; credentials from the standard AWS env
    ├── module.vpc  new VPC, public + private subnets over aws.zones, NAT per aws.network.nat
    │               (absent for an existing VPC: its ids come from aws.network, and with
    │               pools pinned to zones, `data.aws_subnet.private` reads their zones)
    ├── module.eks  IAM roles, the cluster (creator is admin; Secrets envelope-encrypted
    │               with kfstack's KMS key or aws.kms_key_arn, unless
    │               aws.secrets_encryption is off), one node group per pool (in its
    │               zones' private subnets), CSI IRSA roles, and the CSI add-ons when
    │               aws.addons is managed
    ├── module.efs  with storage.rwx: EFS, a mount target per private subnet, NFS group
    └── output      the `stacks.base.InfraOutputs` fields, plus vpc/subnet/CSI role ids

Pools are typed here (`_node_group`) into the module's `node_pools` input: GPU pools
get the NVIDIA AL2023 AMI type, their taints (`pool.effective_taints`, with Kubernetes
effect names turned into EKS's) and the labels the platform layer selects on. A pool
with `zones` gets only the private subnets of those zones (`_pool_subnets`); without,
the module gives it every private subnet.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from installer import aws_api
from installer.console import Reporter
from installer.spec.model import NodePool, Spec
from stacks import kubeconfig, pools
from stacks.base import GpuPoolOutput, InfraOutputs, Stack, terraform_block

PROVIDER_CONSTRAINT = ">= 5.100, < 7.0"
AMI_NVIDIA = "AL2023_x86_64_NVIDIA"
AMI_STANDARD = "AL2023_x86_64_STANDARD"
AMI_ARM = "AL2023_ARM_64_STANDARD"

# The NVIDIA AL2023 AMI does not run GPU feature discovery's labeller before the
# platform layer installs it; this label lets the device plugin's DaemonSet select the
# nodes from the first boot.
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"

_EKS_EFFECT = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
}
# Graviton families (m7g, c6gn, r8g ...) need the ARM AMI type.
_GRAVITON = re.compile(r"^[a-z]+\d+g[a-z]*\.")


def eks_labels(pool: NodePool) -> dict[str, str]:
    """kfstack's pool labels (shared by every cloud), plus the GPU presence label."""
    labels = pools.pool_labels(pool)
    if pool.gpu is not None:
        labels[GPU_PRESENT_LABEL] = "true"
    return labels


def _pool_subnets(zones: list[str], existing: bool) -> list[str] | str:
    """The private subnets of `zones`, as Terraform references.

    A new VPC's module maps each zone to its subnet. An existing VPC's subnets are given
    by id only, so their zones are read (`data.aws_subnet.private`) and filtered; a zone
    with no subnet there leaves the list short, and none at all fails the module's
    validation at plan time, naming the pool.
    """
    wanted = list(dict.fromkeys(zones))
    if existing:
        return (
            "${[for s in data.aws_subnet.private : s.id if contains("
            + json.dumps(wanted)
            + ", s.availability_zone)]}"
        )
    return [f'${{module.vpc.private_subnet_ids_by_zone["{zone}"]}}' for zone in wanted]


def _node_group(pool: NodePool, *, existing_vpc: bool = False) -> dict[str, Any]:
    assert pool.instance_type is not None  # filled in by the spec rules
    if pool.is_gpu:
        ami = AMI_NVIDIA
    else:
        ami = AMI_ARM if _GRAVITON.match(pool.instance_type) else AMI_STANDARD
    group = {
        "instance_types": [pool.instance_type],
        "ami_type": ami,
        "capacity_type": "SPOT" if pool.spot else "ON_DEMAND",
        "min_size": pool.min,
        "max_size": pool.max,
        "desired_size": pool.effective_desired,
        "disk_size": pool.disk_gb,
        "labels": eks_labels(pool),
        "taints": [
            {"key": t.key, "value": t.value, "effect": _EKS_EFFECT[t.effect]}
            for t in pool.effective_taints
        ],
    }
    if pool.zones:
        group["subnet_ids"] = _pool_subnets(pool.zones, existing_vpc)
    return group


class AwsStack(Stack):
    target = "aws"

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        assert spec.aws is not None
        self.aws = spec.aws

    @property
    def cluster_name(self) -> str:
        return self.spec.full_name

    @property
    def tags(self) -> dict[str, str]:
        return {
            "kfstack.io/name": self.spec.name,
            "kfstack.io/environment": self.spec.environment,
            "managed-by": "kfstack",
        }

    def module_names(self) -> list[str]:
        names = ["aws-eks"]
        if not self.aws.network.existing:
            names.insert(0, "aws-vpc")
        if self.spec.storage.rwx:
            names.append("aws-efs")
        return names

    def providers(self) -> dict[str, str]:
        return {"hashicorp/aws": PROVIDER_CONSTRAINT}

    # ------------------------------------------------------------------ configuration

    def _terraform_block(self) -> dict[str, Any]:
        return terraform_block(self.spec, {"aws": ("hashicorp/aws", PROVIDER_CONSTRAINT)})

    def _network(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The VPC module call (or the existing VPC's data source) and the references to
        the VPC id, its CIDR and the subnets."""
        net = self.aws.network
        if net.existing:
            data: dict[str, Any] = {"aws_vpc": {"existing": {"id": net.vpc_id}}}
            if any(pool.zones for pool in self.spec.node_pools):
                data["aws_subnet"] = {
                    "private": {
                        "for_each": "${toset(" + json.dumps(list(net.private_subnet_ids)) + ")}",
                        "id": "${each.value}",
                    }
                }
            refs = {
                "vpc_id": net.vpc_id,
                "vpc_cidr_block": "${data.aws_vpc.existing.cidr_block}",
                "private_subnet_ids": list(net.private_subnet_ids),
                "public_subnet_ids": list(net.public_subnet_ids),
            }
            return {"data": data}, refs
        module = {
            "source": "./modules/aws-vpc",
            "name": self.cluster_name,
            "cidr": net.cidr,
            "zones": list(self.aws.zones),
            "nat": net.nat,
            "tags": self.tags,
        }
        refs = {
            "vpc_id": "${module.vpc.vpc_id}",
            "vpc_cidr_block": "${module.vpc.vpc_cidr_block}",
            "private_subnet_ids": "${module.vpc.private_subnet_ids}",
            "public_subnet_ids": "${module.vpc.public_subnet_ids}",
        }
        return {"module": {"vpc": module}}, refs

    def documents(self) -> dict[str, dict[str, Any]]:
        extra, net = self._network()
        modules: dict[str, Any] = dict(extra.get("module", {}))
        modules["eks"] = {
            "source": "./modules/aws-eks",
            "cluster_name": self.cluster_name,
            "kubernetes_version": self.spec.kubernetes.version,
            "subnet_ids": net["private_subnet_ids"],
            "endpoint_public_access": self.aws.endpoint_public_access,
            "admin_principal_arns": list(self.aws.admin_role_arns),
            "secrets_encryption": self.aws.secrets_encryption,
            "kms_key_arn": self.aws.kms_key_arn,
            "node_pools": {
                pool.name: _node_group(pool, existing_vpc=self.aws.network.existing)
                for pool in self.spec.node_pools
            },
            "addons": self.aws.addons,
            "efs_csi": self.spec.storage.rwx,
            "tags": self.tags,
        }
        if self.spec.storage.rwx:
            modules["efs"] = {
                "source": "./modules/aws-efs",
                "name": self.cluster_name,
                "vpc_id": net["vpc_id"],
                "vpc_cidr_block": net["vpc_cidr_block"],
                "subnet_ids": net["private_subnet_ids"],
                "tags": self.tags,
            }
        main: dict[str, Any] = {
            "terraform": self._terraform_block(),
            "provider": {"aws": {"region": self.aws.region}},
            "module": modules,
            "output": self._outputs(net),
        }
        if "data" in extra:
            main["data"] = extra["data"]
        return {"main.tf.json": main}

    def _outputs(self, net: dict[str, Any]) -> dict[str, Any]:
        out = pools.output
        rwx = "${module.efs.file_system_id}" if self.spec.storage.rwx else None
        return {
            "cluster_name": out("${module.eks.cluster_name}", "EKS cluster name"),
            "region": out(self.aws.region, "AWS region"),
            "endpoint": out("${module.eks.endpoint}", "Kubernetes API server URL"),
            "ca_data": out("${module.eks.ca_data}", "base64 CA of the API server"),
            "oidc_issuer": out("${module.eks.oidc_issuer}", "OIDC issuer (IRSA)"),
            "node_pools": out("${module.eks.node_groups}", "managed node group names"),
            "gpu_pools": out(
                [p.model_dump() for p in self._gpu_pools()],
                "GPU pools: model, count, the labels and taints workloads select on",
            ),
            "rwx_filesystem_id": out(rwx, "EFS file system id (null without storage.rwx)"),
            "vpc_id": out(net["vpc_id"], "VPC id"),
            "private_subnet_ids": out(net["private_subnet_ids"], "private subnet ids"),
            "csi_role_arns": out("${module.eks.csi_role_arns}", "IRSA role per CSI driver"),
            "addons": out(self.aws.addons, "who installs the CSI drivers"),
        }

    def _gpu_pools(self) -> list[GpuPoolOutput]:
        outputs = pools.gpu_pool_outputs(self.spec)
        for entry in outputs:
            entry.labels[GPU_PRESENT_LABEL] = "true"
        return outputs

    def pending_outputs(self) -> InfraOutputs:
        return InfraOutputs(
            target=self.target,
            cluster_name=self.cluster_name,
            region=self.aws.region,
            node_pools=[pool.name for pool in self.spec.node_pools],
            gpu_pools=self._gpu_pools(),
            load_balancer=True,
        )

    # ------------------------------------------------------------------ hooks

    def check_access(self) -> None:
        """Raises: CredentialsError (no or rejected AWS credentials)."""
        aws_api.check_credentials(self.aws.region)

    def prepare_state(self, reporter: Reporter) -> None:
        """Create the S3 bucket and DynamoDB table of `state` when `state.create` is set.

        Raises:
            CredentialsError, KfstackError: AWS refused or could not be reached.
        """
        state = self.spec.state
        if state.backend != "s3" or not state.create:
            return
        assert state.bucket and state.region  # required by the spec rules for s3
        created = aws_api.ensure_state_store(
            bucket=state.bucket,
            table=state.dynamodb_table,
            region=state.region,
            reporter=reporter,
        )
        for item in created:
            reporter.ok(f"created {item}")

    def write_kubeconfig(self, outputs: InfraOutputs, dest: Path) -> Path:
        """Describe the cluster and write a kubeconfig whose user runs
        `kfstack eks-token`, so tokens refresh for as long as the file is used.

        Raises:
            CredentialsError: credentials missing or rejected.
            KfstackError: the cluster does not exist or AWS cannot be reached.
        """
        name = outputs.cluster_name or self.cluster_name
        region = outputs.region or self.aws.region
        cluster = aws_api.describe_cluster(name, region)
        config = kubeconfig.single_context(
            f"kfstack-{name}",
            {
                "server": cluster["endpoint"],
                "certificate-authority-data": cluster["certificateAuthority"]["data"],
            },
            {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": "kfstack",
                    "args": ["eks-token", "--cluster", name, "--region", region],
                    "interactiveMode": "Never",
                    "provideClusterInfo": False,
                }
            },
        )
        return kubeconfig.write(config, dest)


STACK_CLASS = AwsStack
