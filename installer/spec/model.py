"""The typed platform spec (`kfstack.yaml`), version 1.

Structure only: every field, its type, its default and its per-field limits. Rules that
need more than one field, or the GPU/instance catalog, live in `installer.spec.rules`.
Nothing here touches a network.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from installer import hostkeys, redact
from installer.spec import paths

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
    file: str | None = Field(
        None, description="path of a file holding the value (relative: from the spec's folder)"
    )

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
    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$")]] = Field(
        default_factory=list, description="existing VPC: subnets for nodes, in 2+ zones"
    )
    public_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$")]] = Field(
        default_factory=list,
        description="existing VPC: subnets for internet-facing load balancers",
    )

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return _check_cidr(value)

    @property
    def existing(self) -> bool:
        return self.vpc_id is not None


class AwsTarget(Strict):
    """Amazon EKS: the region, its zones, the VPC and how the CSI drivers are installed."""

    region: str = Field(..., description="AWS region, e.g. us-west-2")
    zones: list[str] = Field(default_factory=list, description="availability zones (2+)")
    network: AwsNetwork = Field(default_factory=AwsNetwork, description="the VPC")
    addons: Literal["managed", "self-managed"] = Field(
        "managed",
        description="CSI drivers as EKS managed add-ons, or installed in-cluster by kfstack",
    )
    endpoint_public_access: bool = Field(
        True, description="the Kubernetes API is reachable from the internet"
    )
    admin_role_arns: list[str] = Field(
        default_factory=list, description="extra IAM principals that administer the cluster"
    )
    secrets_encryption: bool = Field(
        True,
        description="envelope-encrypt Kubernetes Secrets with a customer-managed KMS key"
        " (kfstack creates one, with rotation, unless kms_key_arn is given); once on,"
        " turning it off replaces the cluster (EKS cannot remove it)",
    )
    kms_key_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:kms:[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:key/[0-9a-f-]{36}$",
        description="your own symmetric KMS key (its key ARN, in the cluster's region) for"
        " secrets_encryption, instead of a kfstack-created one",
    )


class GcpNetwork(Strict):
    """A new VPC network and subnetwork (cidr ranges) or existing ones (names)."""

    network: str | None = Field(None, description="existing VPC network name")
    subnetwork: str | None = Field(None, description="existing subnetwork name")
    pods_range_name: str | None = Field(
        None, description="existing subnetwork: secondary range name for pods"
    )
    services_range_name: str | None = Field(
        None, description="existing subnetwork: secondary range name for services"
    )
    cidr: str = Field("10.10.0.0/20", description="primary range of a new subnetwork (nodes)")
    pods_cidr: str = Field(
        "10.20.0.0/14", description="secondary range of a new subnetwork (pods)"
    )
    services_cidr: str = Field(
        "10.24.0.0/20", description="secondary range of a new subnetwork (services)"
    )

    @field_validator("cidr", "pods_cidr", "services_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return _check_cidr(value)

    @property
    def existing(self) -> bool:
        return self.network is not None


class GcpTarget(Strict):
    """Google GKE: the project, region and zones, the network and the release channel."""

    project: str = Field(..., pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$", description="project id")
    region: str = Field(..., description="GCP region, e.g. us-central1")
    zones: list[str] = Field(
        default_factory=list, description="zones for nodes [default: the catalog's first three]"
    )
    network: GcpNetwork = Field(default_factory=GcpNetwork, description="the VPC network")
    release_channel: Literal["RAPID", "REGULAR", "STABLE", "EXTENDED", "UNSPECIFIED"] = Field(
        "REGULAR",
        description="GKE release channel; EXTENDED keeps a minor up to 24 months, "
        "UNSPECIFIED pins kubernetes.version exactly",
    )
    deletion_protection: bool = Field(
        True, description="GKE refuses to delete the cluster while true; destroy lifts it first"
    )


class AzureNetwork(Strict):
    """A new VNet (cidr ranges) or an existing subnet for the nodes."""

    vnet_id: str | None = Field(None, description="existing VNet resource id")
    subnet_id: str | None = Field(None, description="existing subnet resource id for nodes")
    cidr: str = Field("10.30.0.0/16", description="address space of a new VNet")
    node_cidr: str = Field("10.30.0.0/20", description="node subnet inside the new VNet")

    @field_validator("cidr", "node_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return _check_cidr(value)

    @property
    def existing(self) -> bool:
        return self.subnet_id is not None


class AzureSystemPool(Strict):
    """AKS's own system pool (`critical`), which runs only its critical add-ons."""

    vm_size: str | None = Field(
        None, description="VM size [default: Standard_D4s_v5, the catalog's default]"
    )
    min: int = Field(1, ge=1, le=100, description="fewest nodes (AKS needs at least one)")
    max: int = Field(3, ge=1, le=100, description="most nodes the autoscaler may add")

    @model_validator(mode="after")
    def _bounds(self) -> AzureSystemPool:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class AzureTarget(Strict):
    """Azure AKS: the subscription, location, resource group, zones and network."""

    subscription_id: str = Field(
        ...,
        pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$",
        description="Azure subscription id (a GUID)",
    )
    location: str = Field(..., description="Azure region, e.g. eastus")
    resource_group: str | None = Field(None, description="defaults to <name>-<environment>")
    zones: list[str] = Field(default_factory=list, description='availability zones: "1", "2", "3"')
    network: AzureNetwork = Field(default_factory=AzureNetwork, description="the VNet")
    system_pool: AzureSystemPool = Field(
        default_factory=AzureSystemPool,
        description="size of AKS's `critical` pool, apart from node_pools (critical add-ons only)",
    )


class BaremetalHost(Strict):
    """One machine kfstack installs k3s on over SSH."""

    name: DnsName
    address: str = Field(..., description="IP address or DNS name reachable over SSH")
    port: int = Field(22, ge=1, le=65535, description="SSH port")
    user: str = Field("root", description="SSH user (root, or one with passwordless sudo)")
    ssh_key: str = Field(
        ...,
        description="path of the SSH private key kfstack uses (relative: from the spec's folder)",
    )
    role: Literal["server", "agent"] = Field(
        "agent", description="server runs the control plane; agents only run workloads"
    )
    gpu: str | None = Field(None, description="GPU model on this host (e.g. A100-80GB), if any")
    gpu_count: int = Field(1, ge=1, le=16, description="number of GPUs on this host")
    labels: dict[str, str] = Field(default_factory=dict, description="extra node labels")
    host_key: str | None = Field(
        None,
        description="the host's SSH public host key, `TYPE BASE64`; its ECDSA key when it "
        "has one (Terraform asks for ECDSA first); `kfstack hostkeys --write` fills it in",
    )

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            hostkeys.parse(value)
        except ValueError as exc:
            raise ValueError(f"not an OpenSSH public host key: {exc}") from None
        return " ".join(value.split())


class Airgap(Strict):
    """Local copies of what a connected install downloads, for hosts without internet
    (relative paths are read from the spec's folder)."""

    binary: str = Field(..., description="local path of the distribution's binary")
    images: str = Field(..., description="local path of the distribution's image tarball")
    install_script: str | None = Field(None, description="local path of the install script")


class NfsServer(Strict):
    """An NFS export that backs the ReadWriteMany StorageClass on bare metal."""

    server: str = Field(..., description="NFS server address")
    path: str = Field("/", description="exported path")


class BaremetalTarget(Strict):
    """Machines you own, reached over SSH: kfstack installs the distribution on them."""

    distribution: Literal["k3s"] = Field(
        "k3s", description="k3s: one binary, one script, easy to air-gap (see README)"
    )
    version: str = Field("v1.34.2+k3s1", description="distribution release")
    hosts: list[BaremetalHost] = Field(..., min_length=1, description="the machines")
    airgap: Airgap | None = Field(None, description="install from local files, offline")
    nfs: NfsServer | None = Field(None, description="NFS export backing the RWX class")
    api_address: str | None = Field(None, description="address agents use to reach the server")
    host_key_checking: Literal["strict", "accept-new"] = Field(
        "strict",
        description="how SSH host keys are checked: strict (every host needs host_key and "
        "only that key is accepted) or accept-new (a host without one is trusted on first "
        "contact; validate warns)",
    )


class ExistingTarget(Strict):
    """A cluster you already run: kfstack installs Kubeflow through its kubeconfig."""

    kubeconfig: str = Field(
        "~/.kube/config",
        description="path of the cluster's kubeconfig (relative: from the spec's folder)",
    )
    context: str | None = Field(None, description="kubeconfig context [default: current]")
    rwo_class: str | None = Field(None, description="existing StorageClass to use for RWO")
    rwx_class: str | None = Field(None, description="existing StorageClass to use for RWX")


# ---------------------------------------------------------------------------- nodes


class Taint(Strict):
    """A Kubernetes node taint."""

    key: str = Field(..., description="taint key, e.g. nvidia.com/gpu")
    value: str = Field("", description="taint value")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = Field(
        "NoSchedule", description="what the taint does to pods without a toleration"
    )

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _LABEL_KEY.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid taint key")
        return value


class GpuRequest(Strict):
    """The GPUs of each node in a pool."""

    model: str = Field(..., description="GPU model from `kfstack catalog`, e.g. A10G, L4, H100")
    count: int = Field(1, ge=1, le=16, description="GPUs per node")


GPU_TAINT = Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule")


class NodePool(Strict):
    """A group of identical cloud nodes that scales between min and max."""

    name: DnsName
    role: Literal["system", "cpu", "gpu"] | None = Field(
        None, description="defaults to gpu when `gpu` is set, else cpu (the first pool: system)"
    )
    instance_type: str | None = Field(
        None,
        description="instance/machine/VM size; for GPU pools chosen from the catalog if unset",
    )
    gpu: GpuRequest | None = Field(None, description="GPUs per node; makes this a GPU pool")
    min: int = Field(1, ge=0, le=1000, description="fewest nodes; 0 lets a GPU pool scale to zero")
    max: int = Field(3, ge=0, le=1000, description="most nodes the autoscaler may add")
    desired: int | None = Field(
        None, ge=0, le=1000, description="nodes at creation [default: min]"
    )
    spot: bool = Field(False, description="spot / preemptible capacity")
    disk_gb: int = Field(100, ge=20, le=16384, description="root disk per node, GB")
    labels: dict[str, str] = Field(default_factory=dict, description="extra node labels")
    taints: list[Taint] | None = Field(
        None, description="defaults: GPU pools get nvidia.com/gpu=present:NoSchedule"
    )
    zones: list[str] = Field(
        default_factory=list, description="zones for this pool [default: the target's zones]"
    )

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
    """The Kubernetes minor version the cluster runs."""

    version: str = Field(
        DEFAULT_KUBERNETES_VERSION,
        pattern=r"^1\.\d{2}$",
        description='minor version, quoted ("1.34"); each target\'s window is in the catalog',
    )

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
    """The StorageClasses Kubeflow needs: a default RWO class and, optionally, RWX."""

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
    """Which Kubeflow components to install (the platform core always is)."""

    pipelines: bool = Field(True, description="Kubeflow Pipelines")
    notebooks: bool = Field(True, description="Notebooks (Jupyter, VS Code, RStudio servers)")
    katib: bool = Field(True, description="Katib hyperparameter tuning")
    kserve: bool = Field(True, description="KServe model serving (with Knative)")
    training: bool = Field(True, description="Trainer (26.03+) or the Training Operator")
    tensorboards: bool = Field(True, description="TensorBoard servers")
    volumes: bool = Field(True, description="the Volumes web app")
    model_registry: bool = Field(False, description="Kubeflow Model Registry")
    spark: bool = Field(False, description="the Spark operator")

    def enabled(self) -> list[str]:
        return [name for name in COMPONENTS if getattr(self, name)]


class Quota(Strict):
    """A ResourceQuota on the team's namespace."""

    cpu: str | None = Field(None, pattern=r"^\d+(\.\d+)?m?$", description="requests.cpu, e.g. 32")
    memory: str | None = Field(
        None,
        pattern=r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$",
        description="requests.memory, e.g. 128Gi",
    )
    gpu: int | None = Field(None, ge=0, description="requests.nvidia.com/gpu")
    storage: str | None = Field(
        None,
        pattern=r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$",
        description="requests.storage over all volumes, e.g. 1Ti",
    )


class Team(Strict):
    """A Kubeflow profile: a namespace, its owners and members, and an optional quota."""

    name: DnsName = Field(..., description="profile and namespace name")
    owners: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        ..., min_length=1, description="e-mail addresses of the owners"
    )
    members: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list, description="e-mail addresses with edit access"
    )
    quota: Quota | None = Field(None, description="resource quota of the namespace")


CONNECTOR_TYPES = ("google", "okta", "pingid", "entra", "github", "oidc")


class Connector(Strict):
    """A Dex connector: sign-in through an identity provider."""

    type: Literal["google", "okta", "pingid", "entra", "github", "oidc"] = Field(
        ..., description="identity provider"
    )
    id: DnsName | None = Field(None, description="defaults to the type")
    name: str | None = Field(None, description="label on the sign-in page")
    client_id: str = Field(..., description="OAuth client id registered with the provider")
    client_secret: SecretRef | None = Field(None, description="reference: env var or file")
    issuer: str | None = Field(None, description="OIDC issuer URL (okta, pingid, oidc)")
    tenant_id: str | None = Field(None, description="Entra ID tenant")
    hosted_domains: list[str] = Field(default_factory=list, description="google: allowed domains")
    orgs: list[str] = Field(default_factory=list, description="github: allowed organisations")

    @property
    def connector_id(self) -> str:
        return self.id or self.type


class StaticAdmin(Strict):
    """A local administrator account in Dex."""

    email: str = Field(
        "admin@kubeflow.local",
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="the admin's sign-in e-mail",
    )
    enabled: bool = Field(True, description="a static admin whose password kfstack generates")


class Auth(Strict):
    """How people sign in: a static admin and/or identity-provider connectors."""

    admin: StaticAdmin = Field(default_factory=StaticAdmin, description="the static admin")
    connectors: list[Connector] = Field(default_factory=list, description="identity providers")


class Tls(Strict):
    """The dashboard's certificate, issued by cert-manager."""

    issuer: Literal["self-signed", "acme"] = Field(
        "self-signed", description="acme needs kubeflow.domain and a public DNS record"
    )
    acme_email: str | None = Field(None, description="contact address for the ACME account")
    acme_server: str = Field(
        "https://acme-v02.api.letsencrypt.org/directory", description="ACME directory URL"
    )


class Registry(Strict):
    """A registry mirror for clusters that cannot pull from public registries."""

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
    """The Kubeflow release, its components, teams, sign-in, domain and TLS."""

    version: Literal["v1.10.2", "v1.11.0", "26.03"] = Field(
        DEFAULT_KUBEFLOW_VERSION, description='Kubeflow release (quote it: "26.03")'
    )
    manifests: str | None = Field(
        None,
        description="local directory with the release manifests instead of downloading "
        "(relative: from the spec's folder)",
    )
    components: Components = Field(default_factory=Components, description="what to install")
    teams: list[Team] = Field(default_factory=list, description="profiles to create")
    auth: Auth = Field(default_factory=Auth, description="sign-in")
    domain: str | None = Field(None, description="host name of the dashboard")
    tls: Tls = Field(default_factory=Tls, description="the dashboard's certificate")
    registry: Registry | None = Field(None, description="pull every image through a mirror")

    @field_validator("version", mode="before")
    @classmethod
    def _from_number(cls, value: object) -> object:
        # `version: 26.03` in YAML is the float 26.03.
        if isinstance(value, float):
            return f"{value:.2f}"
        return value


# ---------------------------------------------------------------------------- operations


_SCP_URL = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)")
_URL_SCHEMES = ("ssh", "https", "http", "file", "git")


def git_url_scheme(repository: str) -> str | None:
    """The transport of a `gitops.repository` value: ssh, https, ... or None for a local path."""
    if _SCP_URL.match(repository):
        return "ssh"
    match = re.match(r"^([a-z][a-z0-9+.-]*)://", repository)
    return match.group(1) if match else None


class GitAuthor(Strict):
    """Who the commits kfstack makes are by (author and committer)."""

    name: str = Field("kfstack", min_length=1, description="author name of kfstack's commits")
    email: str = Field(
        "kfstack@localhost",
        pattern=r"^[^@\s<>]+@[^@\s<>]+$",
        description="author e-mail of kfstack's commits",
    )


class GitOps(Strict):
    """Commit every render (Terraform root, platform tree, lock, spec) to a Git branch.

    kfstack keeps its own clone of `repository` in the work directory, writes the render
    under `path`, commits only when the content changed and pushes when `push` is set.
    Credentials come from the user's git/ssh configuration, or `credential` for https.
    """

    enabled: bool = Field(False, description="commit each render to the repository")
    repository: str = Field(
        "./platform-repo",
        min_length=1,
        description="a local repository path (relative to the spec) or a remote URL "
        "(ssh://, user@host:path, https://, file://)",
    )
    branch: str = Field("main", description="branch the commits go to (created when missing)")
    path: str | None = Field(
        None, description="folder inside the repository [default: <name>/<environment>]"
    )
    author: GitAuthor = Field(default_factory=GitAuthor, description="commit identity")
    push: bool = Field(
        False,
        description="push each new commit to the repository (false: it stays in kfstack's "
        "clone in the work directory)",
    )
    credential: SecretRef | None = Field(
        None, description="https only: the password or access token (env or file)"
    )
    username: str = Field(
        "git", min_length=1, description="https only: the user name sent with `credential`"
    )

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        scheme = git_url_scheme(value)
        if scheme is not None and scheme not in _URL_SCHEMES:
            raise ValueError(f"unsupported URL scheme {scheme}://; use ssh, https or file")
        userinfo = re.match(r"^[a-z]+://[^/@:]*:([^/@]*)@", value)
        if scheme in ("https", "http") and userinfo:
            # The error echoes the value: mask the password in every output first.
            redact.register(userinfo.group(1))
            raise ValueError(
                "a password in the URL would be stored in plain text; remove it and use "
                "gitops.credential: {env: VAR} instead"
            )
        return value

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        # The rules of `git check-ref-format --branch`, checked offline.
        bad = (
            not value
            or value.startswith(("-", "/", "."))
            or value.endswith(("/", ".", ".lock"))
            or any(part.startswith(".") for part in value.split("/"))
            or re.search(r"\.\.|//|@\{|[\x00-\x20~^:?*\[\\\x7f]", value) is not None
            or value == "@"
        )
        if bad:
            raise ValueError(f"{value!r} is not a valid Git branch name")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = [p for p in value.strip("/").split("/") if p not in ("", ".")]
        if value.startswith("/") or "\\" in value:
            raise ValueError("give a relative folder inside the repository, e.g. platform/prod")
        if not parts or any(p == ".." or p.lower() == ".git" for p in parts):
            raise ValueError(
                "give a folder inside the repository (not its root, no `..` or `.git`)"
            )
        return "/".join(parts)

    def target_path(self, spec_name: str, environment: str) -> str:
        """The folder inside the repository that holds this environment's render."""
        return self.path or f"{spec_name}/{environment}"


class State(Strict):
    """Where Terraform keeps its state."""

    backend: Literal["local", "s3", "gcs", "azurerm"] = Field(
        "local", description="local keeps state in the work directory"
    )
    bucket: str | None = Field(None, description="s3/gcs bucket")
    key: str | None = Field(None, description="object key/prefix; defaults to <name>/<env>")
    region: str | None = Field(None, description="s3: the bucket's region")
    dynamodb_table: str | None = Field(None, description="s3: DynamoDB lock table")
    create: bool = Field(False, description="create the bucket/table first if missing")
    storage_account: str | None = Field(None, description="azurerm: storage account name")
    container: str | None = Field(None, description="azurerm: blob container name")
    resource_group: str | None = Field(None, description="azurerm: the account's resource group")


class Engine(Strict):
    """The Terraform-compatible binary kfstack drives."""

    binary: str = Field(
        "terraform",
        description="terraform or tofu (looked up on PATH), or a path to either (relative: "
        "from the spec's folder)",
    )
    version: str = Field(">= 1.6", description="version constraint the binary must satisfy")


class Spec(Strict):
    """A kfstack platform: one cluster, its node pools and storage, and Kubeflow on top."""

    spec_version: Literal[1] = Field(SPEC_VERSION, description="format version of this file")
    name: DnsName = Field(
        ..., description="platform name; resources are named <name>-<environment>"
    )
    environment: DnsName = Field("dev", description="environment name, e.g. dev, staging, prod")
    target: Literal["aws", "gcp", "azure", "baremetal", "existing"] = Field(
        ..., description="where the platform runs; the block of the same name configures it"
    )
    aws: AwsTarget | None = Field(None, description="settings for target: aws")
    gcp: GcpTarget | None = Field(None, description="settings for target: gcp")
    azure: AzureTarget | None = Field(None, description="settings for target: azure")
    baremetal: BaremetalTarget | None = Field(None, description="settings for target: baremetal")
    existing: ExistingTarget | None = Field(None, description="settings for target: existing")
    kubernetes: Kubernetes = Field(default_factory=Kubernetes, description="cluster version")
    node_pools: list[NodePool] = Field(
        default_factory=list,
        description="cloud targets only [default: one system pool of the default size]",
    )
    storage: Storage = Field(default_factory=Storage, description="StorageClasses")
    kubeflow: Kubeflow = Field(default_factory=Kubeflow, description="the Kubeflow layer")
    gitops: GitOps = Field(default_factory=GitOps, description="commit the rendered platform")
    state: State = Field(default_factory=State, description="Terraform state backend")
    engine: Engine = Field(default_factory=Engine, description="terraform or tofu")

    # Not a field: the folder of the file the spec was loaded from (`load_spec` sets it).
    # Relative local paths are read from there; None (text, code) reads them from the
    # current directory. Values stay as written (see installer.spec.paths).
    _base_dir: Path | None = PrivateAttr(None)

    @property
    def base_dir(self) -> Path | None:
        return self._base_dir

    @base_dir.setter
    def base_dir(self, value: Path | None) -> None:
        self._base_dir = value

    def local_path(self, value: str) -> Path:
        """A local path field's value as the path to read (relative: from `base_dir`)."""
        return paths.resolve(value, self._base_dir)

    def engine_command(self) -> str:
        """`engine.binary` to run: a name as is (found on PATH), a path resolved."""
        binary = self.engine.binary
        return binary if paths.is_command_name(binary) else str(self.local_path(binary))

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
