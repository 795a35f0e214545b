"""The typed platform spec (`kfstack.yaml`), version 1.

Structure only: every field, its type, its default and its per-field limits. Rules that
need more than one field, or the GPU/instance catalog, live in `installer.spec.rules`.
Nothing here touches a network.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SPEC_VERSION = 1
DEFAULT_KUBERNETES_VERSION = "1.34"
KUBEFLOW_VERSIONS = ("v1.10.2", "v1.11.0", "26.03")
DEFAULT_KUBEFLOW_VERSION = "26.03"
TARGETS = ("aws", "gcp", "azure", "baremetal", "existing")

_DNS_LABEL = r"^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$"
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)

DnsName = Annotated[str, Field(pattern=_DNS_LABEL, description="lower-case DNS label, 1-32 chars")]


class Strict(BaseModel):
    """Base for every spec block: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


# ---------------------------------------------------------------------------- secrets


class SecretRef(Strict):
    """Where a secret value comes from. Values are never written inline in the spec."""

    env: str | None = Field(None, description="name of an environment variable holding the value")
    file: str | None = Field(None, description="path of a file holding the value")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of `env` or `file`")
        if self.env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.env):
            raise ValueError(f"`env` must be an environment variable name, got {self.env!r}")
        return self

    def describe(self) -> str:
        return f"env:{self.env}" if self.env else f"file:{self.file}"


# ---------------------------------------------------------------------------- targets


class AwsNetwork(Strict):
    """A new VPC (cidr, nat) or an existing one (vpc_id and subnet ids)."""

    cidr: str = Field("10.0.0.0/16", description="CIDR of a new VPC")
    nat: Literal["single", "per-zone", "none"] = Field(
        "single", description="NAT gateways for private subnets of a new VPC"
    )
    vpc_id: str | None = Field(None, pattern=r"^vpc-[0-9a-f]+$", description="existing VPC id")
    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$")]] = []
    public_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$")]] = []

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return _check_cidr(value)

    @property
    def existing(self) -> bool:
        return self.vpc_id is not None


class AwsTarget(Strict):
    region: str = Field(..., description="AWS region, e.g. us-west-2")
    zones: list[str] = Field(default_factory=list, description="availability zones (2+)")
    network: AwsNetwork = Field(default_factory=AwsNetwork)
    addons: Literal["managed", "self-managed"] = Field(
        "managed",
        description="CSI drivers as EKS managed add-ons, or installed in-cluster by kfstack",
    )
    endpoint_public_access: bool = True
    admin_role_arns: list[str] = Field(
        default_factory=list, description="extra IAM principals that administer the cluster"
    )


class GcpNetwork(Strict):
    network: str | None = Field(None, description="existing VPC network name")
    subnetwork: str | None = Field(None, description="existing subnetwork name")
    pods_range_name: str | None = None
    services_range_name: str | None = None
    cidr: str = "10.10.0.0/20"
    pods_cidr: str = "10.20.0.0/14"
    services_cidr: str = "10.24.0.0/20"

    @field_validator("cidr", "pods_cidr", "services_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return _check_cidr(value)

    @property
    def existing(self) -> bool:
        return self.network is not None


class GcpTarget(Strict):
    project: str = Field(..., pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$", description="project id")
    region: str
    zones: list[str] = Field(default_factory=list)
    network: GcpNetwork = Field(default_factory=GcpNetwork)
    release_channel: Literal["RAPID", "REGULAR", "STABLE", "EXTENDED", "UNSPECIFIED"] = Field(
        "REGULAR",
        description="GKE release channel; EXTENDED keeps a minor up to 24 months, "
        "UNSPECIFIED pins kubernetes.version exactly",
    )
    deletion_protection: bool = Field(
        True, description="GKE refuses to delete the cluster while true; destroy lifts it first"
    )


class AzureNetwork(Strict):
    vnet_id: str | None = Field(None, description="existing VNet resource id")
    subnet_id: str | None = Field(None, description="existing subnet resource id for nodes")
    cidr: str = "10.30.0.0/16"
    node_cidr: str = "10.30.0.0/20"

    @field_validator("cidr", "node_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return _check_cidr(value)

    @property
    def existing(self) -> bool:
        return self.subnet_id is not None


class AzureTarget(Strict):
    subscription_id: str = Field(
        ..., pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
    )
    location: str = Field(..., description="Azure region, e.g. eastus")
    resource_group: str | None = Field(None, description="defaults to <name>-<environment>")
    zones: list[str] = Field(default_factory=list, description='availability zones: "1", "2", "3"')
    network: AzureNetwork = Field(default_factory=AzureNetwork)


class BaremetalHost(Strict):
    name: DnsName
    address: str = Field(..., description="IP address or DNS name reachable over SSH")
    port: int = Field(22, ge=1, le=65535)
    user: str = "root"
    ssh_key: str = Field(..., description="path of the private key kfstack connects with")
    role: Literal["server", "agent"] = "agent"
    gpu: str | None = Field(None, description="GPU model on this host (e.g. A100-80GB), if any")
    gpu_count: int = Field(1, ge=1, le=16)
    labels: dict[str, str] = Field(default_factory=dict)


class Airgap(Strict):
    binary: str = Field(..., description="local path of the distribution's binary")
    images: str = Field(..., description="local path of the distribution's image tarball")
    install_script: str | None = Field(None, description="local path of the install script")


class NfsServer(Strict):
    server: str
    path: str = "/"


class BaremetalTarget(Strict):
    distribution: Literal["k3s"] = Field(
        "k3s", description="k3s: one binary, one script, easy to air-gap (see README)"
    )
    version: str = Field("v1.34.2+k3s1", description="distribution release")
    hosts: list[BaremetalHost] = Field(..., min_length=1)
    airgap: Airgap | None = None
    nfs: NfsServer | None = Field(None, description="NFS export backing the RWX class")
    api_address: str | None = Field(None, description="address agents use to reach the server")


class ExistingTarget(Strict):
    kubeconfig: str = Field("~/.kube/config")
    context: str | None = None
    rwo_class: str | None = Field(None, description="existing StorageClass to use for RWO")
    rwx_class: str | None = Field(None, description="existing StorageClass to use for RWX")


# ---------------------------------------------------------------------------- nodes


class Taint(Strict):
    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _LABEL_KEY.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid taint key")
        return value


class GpuRequest(Strict):
    model: str = Field(..., description="GPU model from `kfstack catalog`, e.g. A10G, L4, H100")
    count: int = Field(1, ge=1, le=16, description="GPUs per node")


GPU_TAINT = Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule")


class NodePool(Strict):
    name: DnsName
    role: Literal["system", "cpu", "gpu"] | None = Field(
        None, description="defaults to gpu when `gpu` is set, else cpu (the first pool: system)"
    )
    instance_type: str | None = Field(
        None,
        description="instance/machine/VM size; for GPU pools chosen from the catalog if unset",
    )
    gpu: GpuRequest | None = None
    min: int = Field(1, ge=0, le=1000)
    max: int = Field(3, ge=0, le=1000)
    desired: int | None = Field(None, ge=0, le=1000)
    spot: bool = Field(False, description="spot / preemptible capacity")
    disk_gb: int = Field(100, ge=20, le=16384)
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] | None = Field(
        None, description="defaults: GPU pools get nvidia.com/gpu=present:NoSchedule"
    )
    zones: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _defaults(self) -> NodePool:
        if self.role is None:
            object.__setattr__(self, "role", "gpu" if self.gpu else "cpu")
        return self

    @property
    def is_gpu(self) -> bool:
        return self.gpu is not None

    @property
    def effective_desired(self) -> int:
        return self.desired if self.desired is not None else self.min

    @property
    def effective_taints(self) -> list[Taint]:
        if self.taints is not None:
            return self.taints
        return [GPU_TAINT] if self.is_gpu else []


class Kubernetes(Strict):
    version: str = Field(DEFAULT_KUBERNETES_VERSION, pattern=r"^1\.\d{2}$")

    @field_validator("version", mode="before")
    @classmethod
    def _from_number(cls, value: object) -> object:
        # `version: 1.30` is a YAML float; 1.3 would be ambiguous, so insist on two digits.
        if isinstance(value, float):
            return f"{value:.2f}"
        return value

    @property
    def minor(self) -> int:
        return int(self.version.split(".")[1])


# ---------------------------------------------------------------------------- storage


class Storage(Strict):
    rwo_class: str = Field("kfstack-rwo", description="name of the default RWO StorageClass")
    rwx: bool = Field(False, description="also provide a ReadWriteMany class")
    rwx_class: str = Field("kfstack-rwx", description="name of the RWX StorageClass")
    snapshots: bool = Field(False, description="install the snapshot controller and a class")


# ---------------------------------------------------------------------------- kubeflow

COMPONENTS = (
    "pipelines",
    "notebooks",
    "katib",
    "kserve",
    "training",
    "tensorboards",
    "volumes",
    "model_registry",
    "spark",
)


class Components(Strict):
    pipelines: bool = True
    notebooks: bool = True
    katib: bool = True
    kserve: bool = True
    training: bool = Field(True, description="Trainer (26.03+) or the Training Operator")
    tensorboards: bool = True
    volumes: bool = True
    model_registry: bool = False
    spark: bool = False

    def enabled(self) -> list[str]:
        return [name for name in COMPONENTS if getattr(self, name)]


class Quota(Strict):
    cpu: str | None = Field(None, pattern=r"^\d+(\.\d+)?m?$")
    memory: str | None = Field(None, pattern=r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")
    gpu: int | None = Field(None, ge=0, description="requests.nvidia.com/gpu")
    storage: str | None = Field(None, pattern=r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")


class Team(Strict):
    name: DnsName
    owners: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        ..., min_length=1
    )
    members: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = []
    quota: Quota | None = None


CONNECTOR_TYPES = ("google", "okta", "pingid", "entra", "github", "oidc")


class Connector(Strict):
    type: Literal["google", "okta", "pingid", "entra", "github", "oidc"]
    id: DnsName | None = Field(None, description="defaults to the type")
    name: str | None = Field(None, description="label on the sign-in page")
    client_id: str
    client_secret: SecretRef | None = Field(None, description="reference: env var or file")
    issuer: str | None = Field(None, description="OIDC issuer URL (okta, pingid, oidc)")
    tenant_id: str | None = Field(None, description="Entra ID tenant")
    hosted_domains: list[str] = Field(default_factory=list, description="google: allowed domains")
    orgs: list[str] = Field(default_factory=list, description="github: allowed organisations")

    @property
    def connector_id(self) -> str:
        return self.id or self.type


class StaticAdmin(Strict):
    email: str = Field("admin@kubeflow.local", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    enabled: bool = Field(True, description="a static admin whose password kfstack generates")


class Auth(Strict):
    admin: StaticAdmin = Field(default_factory=StaticAdmin)
    connectors: list[Connector] = Field(default_factory=list)


class Tls(Strict):
    issuer: Literal["self-signed", "acme"] = "self-signed"
    acme_email: str | None = None
    acme_server: str = "https://acme-v02.api.letsencrypt.org/directory"


class Registry(Strict):
    mirror: str = Field(..., description="registry prefix every image is rewritten to")
    pull_secret: SecretRef | None = Field(None, description="dockerconfigjson for the mirror")

    @field_validator("mirror")
    @classmethod
    def _mirror(cls, value: str) -> str:
        value = value.rstrip("/")
        if "://" in value or not re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?(/[a-z0-9._/-]+)?", value):
            raise ValueError("give a registry host and optional path, e.g. registry.corp:5000/kf")
        return value


class Kubeflow(Strict):
    version: Literal["v1.10.2", "v1.11.0", "26.03"] = DEFAULT_KUBEFLOW_VERSION
    manifests: str | None = Field(
        None, description="local directory with the release manifests instead of downloading"
    )
    components: Components = Field(default_factory=Components)
    teams: list[Team] = Field(default_factory=list)
    auth: Auth = Field(default_factory=Auth)
    domain: str | None = Field(None, description="host name of the dashboard")
    tls: Tls = Field(default_factory=Tls)
    registry: Registry | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _from_number(cls, value: object) -> object:
        # `version: 26.03` in YAML is the float 26.03.
        if isinstance(value, float):
            return f"{value:.2f}"
        return value


# ---------------------------------------------------------------------------- operations


class GitOps(Strict):
    enabled: bool = False
    repository: str = Field("./platform-repo", description="local Git repository path")
    branch: str = "main"
    commit: bool = True


class State(Strict):
    backend: Literal["local", "s3", "gcs", "azurerm"] = "local"
    bucket: str | None = Field(None, description="s3/gcs bucket")
    key: str | None = Field(None, description="object key/prefix; defaults to <name>/<env>")
    region: str | None = None
    dynamodb_table: str | None = Field(None, description="s3: DynamoDB lock table")
    create: bool = Field(False, description="create the bucket/table first if missing")
    storage_account: str | None = None
    container: str | None = None
    resource_group: str | None = None


class Engine(Strict):
    binary: str = Field("terraform", description="terraform, tofu, or a path to either")
    version: str = Field(">= 1.6", description="version constraint the binary must satisfy")


class Spec(Strict):
    """A kfstack platform: one cluster, its node pools and storage, and Kubeflow on top."""

    spec_version: Literal[1] = SPEC_VERSION
    name: DnsName
    environment: DnsName = "dev"
    target: Literal["aws", "gcp", "azure", "baremetal", "existing"]
    aws: AwsTarget | None = None
    gcp: GcpTarget | None = None
    azure: AzureTarget | None = None
    baremetal: BaremetalTarget | None = None
    existing: ExistingTarget | None = None
    kubernetes: Kubernetes = Field(default_factory=Kubernetes)
    node_pools: list[NodePool] = Field(default_factory=list)
    storage: Storage = Field(default_factory=Storage)
    kubeflow: Kubeflow = Field(default_factory=Kubeflow)
    gitops: GitOps = Field(default_factory=GitOps)
    state: State = Field(default_factory=State)
    engine: Engine = Field(default_factory=Engine)

    @property
    def target_block(
        self,
    ) -> AwsTarget | GcpTarget | AzureTarget | BaremetalTarget | ExistingTarget:
        block = getattr(self, self.target)
        assert block is not None  # guaranteed by rules.check_structure
        return block

    @property
    def full_name(self) -> str:
        return f"{self.name}-{self.environment}"

    @property
    def gpu_pools(self) -> list[NodePool]:
        return [pool for pool in self.node_pools if pool.is_gpu]

    @property
    def region(self) -> str | None:
        block = getattr(self, self.target, None)
        if block is None:
            return None
        return getattr(block, "region", None) or getattr(block, "location", None)


def _check_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR block ({exc})") from None
    if network.version != 4:
        raise ValueError("IPv4 CIDR blocks only")
    return value
