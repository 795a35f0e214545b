"""Cross-field rules of the spec, checked offline against the shipped catalog.

`check(spec)` returns the problems (errors) and warnings it finds and fills in derived
values a person may leave out: the system pool's role, default zones, and the instance
type of a GPU pool that names only its GPU model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import yaml

from installer import catalog as _catalog
from installer.errors import SpecProblem
from installer.spec import model as m

# Pools default to these when no instance type is given (current general-purpose sizes
# with enough memory for Kubeflow's system components).
DEFAULT_INSTANCE = {"aws": "m6i.xlarge", "gcp": "n2-standard-4", "azure": "Standard_D4s_v5"}
CLOUD_TARGETS = ("aws", "gcp", "azure")

_REGION_PATTERNS = {
    "aws": re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$"),
    "gcp": re.compile(r"^[a-z]+-[a-z]+\d+$"),
    "azure": re.compile(r"^[a-z]+[a-z0-9]*$"),
}


@dataclass
class Findings:
    problems: list[SpecProblem] = field(default_factory=list)
    warnings: list[SpecProblem] = field(default_factory=list)

    def error(self, path: str, message: str, hint: str | None = None) -> None:
        self.problems.append(SpecProblem(path, message, hint))

    def warn(self, path: str, message: str, hint: str | None = None) -> None:
        self.warnings.append(SpecProblem(path, message, hint))


@lru_cache(maxsize=1)
def kubernetes_support() -> dict:
    text = resources.files("installer.catalog").joinpath("data", "kubernetes.yaml").read_text()
    return yaml.safe_load(text)


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def check(spec: m.Spec, *, require_host_keys: bool = True) -> Findings:
    """Run every cross-field rule; derived defaults are written into `spec`.

    `require_host_keys=False` lets bare-metal hosts lack the key strict checking needs,
    for the commands that exist to find those keys (`init`, `hostkeys`, `doctor`).
    """
    found = Findings()
    if not _check_target_blocks(spec, found):
        return found
    _check_kubernetes(spec, found)
    if spec.target in CLOUD_TARGETS:
        _check_cloud(spec, found)
    else:
        if spec.node_pools:
            found.error(
                "node_pools",
                f"node pools are created only on cloud targets, not on {spec.target}",
                "bare-metal nodes come from baremetal.hosts; remove node_pools"
                if spec.target == "baremetal"
                else "an existing cluster keeps its own nodes; remove node_pools",
            )
        if spec.target == "baremetal":
            _check_baremetal(spec, found)
            _check_host_keys(spec, found, required=require_host_keys)
    _check_storage(spec, found)
    _check_kubeflow(spec, found)
    _check_gitops(spec, found)
    _check_state(spec, found)
    return found


# ---------------------------------------------------------------------------- target


def _check_target_blocks(spec: m.Spec, found: Findings) -> bool:
    ok = True
    if getattr(spec, spec.target) is None:
        found.error(
            spec.target, f"target is {spec.target} but the `{spec.target}:` block is missing"
        )
        ok = False
    for other in m.TARGETS:
        if other != spec.target and getattr(spec, other) is not None:
            found.error(
                other,
                f"`{other}:` block given but target is {spec.target}",
                f"remove it, or set target: {other}",
            )
            ok = False
    return ok


def _check_kubernetes(spec: m.Spec, found: Findings) -> None:
    support = kubernetes_support()
    minor = spec.kubernetes.minor
    window = support["targets"][spec.target]
    if not _minor(window["min"]) <= minor <= _minor(window["max"]):
        found.error(
            "kubernetes.version",
            f"{spec.target} supports Kubernetes {window['min']} to {window['max']}, "
            f"not {spec.kubernetes.version}",
            f"set kubernetes.version between {window['min']} and {window['max']}",
        )
        return
    standard_min = window.get("standard_min")
    if (
        standard_min
        and minor < _minor(standard_min)
        and spec.gcp is not None
        and spec.gcp.release_channel != "EXTENDED"
    ):
        found.warn(
            "gcp.release_channel",
            f"GKE creates Kubernetes {spec.kubernetes.version} only on the EXTENDED channel "
            f"(standard support starts at {standard_min})",
            f'set gcp.release_channel: EXTENDED or kubernetes.version: "{standard_min}"',
        )
    tested = support["kubeflow_tested"][spec.kubeflow.version]
    if not _minor(tested["min"]) <= minor <= _minor(tested["max"]):
        found.warn(
            "kubernetes.version",
            f"Kubeflow {spec.kubeflow.version} is tested on Kubernetes {tested['min']}-"
            f"{tested['max']}, not {spec.kubernetes.version}",
        )


def _check_cloud(spec: m.Spec, found: Findings) -> None:
    cloud = spec.target
    cat = _catalog.load().cloud(cloud)
    block = spec.target_block
    region = spec.region or ""
    region_field = "azure.location" if cloud == "azure" else f"{cloud}.region"
    if not _REGION_PATTERNS[cloud].fullmatch(region):
        found.error(
            region_field,
            f"{region!r} is not a {cloud} region name",
            f"for example {next(iter(cat.regions))}",
        )
        return
    if region not in cat.regions:
        found.warn(
            region_field,
            f"the catalog has no prices for {region}; "
            "cost estimates and GPU checks cover " + ", ".join(cat.regions),
        )

    # Zones: syntactically inside the region; default to the catalog's first ones.
    zones = list(block.zones)
    for index, zone in enumerate(zones):
        if not _zone_in_region(cloud, zone, region):
            found.error(
                f"{cloud}.zones[{index}]",
                f"zone {zone!r} is not in region {region}",
                _zone_hint(cloud, region, cat),
            )
    if not zones and region in cat.regions:
        want = 3 if cloud != "aws" else 2
        block.zones = cat.regions[region][:want]
    _check_cluster_name(spec, found)
    if cloud == "aws":
        _check_aws_network(spec, found)
    elif cloud == "gcp":
        _check_gcp_network(spec, found)

    # Pools.
    if not spec.node_pools:
        spec.node_pools = [m.NodePool(name="system", role="system", min=2, max=3)]
    names: set[str] = set()
    for index, pool in enumerate(spec.node_pools):
        path = f"node_pools[{index}]"
        if pool.name in names:
            found.error(f"{path}.name", f"pool name {pool.name!r} is used twice")
        names.add(pool.name)
        _check_pool(spec, pool, path, cat, region, found)
    _assign_system_pool(spec, found)
    if cloud == "azure":
        _check_azure_pools(spec, found)


def _zone_in_region(cloud: str, zone: str, region: str) -> bool:
    if cloud == "aws":
        return re.fullmatch(re.escape(region) + r"[a-z]", zone) is not None
    if cloud == "gcp":
        return re.fullmatch(re.escape(region) + r"-[a-z]", zone) is not None
    return zone in {"1", "2", "3"}


def _zone_hint(cloud: str, region: str, cat: _catalog.CloudCatalog) -> str:
    if region in cat.regions:
        return "zones of " + region + ": " + ", ".join(cat.regions[region])
    return 'Azure zones are "1", "2" and "3"' if cloud == "azure" else f"use {region}<letter>"


def _check_aws_network(spec: m.Spec, found: Findings) -> None:
    aws = spec.aws
    assert aws is not None
    if aws.kms_key_arn is not None:
        if not aws.secrets_encryption:
            found.error(
                "aws.kms_key_arn",
                "a KMS key is given but aws.secrets_encryption is false",
                "set aws.secrets_encryption: true, or remove aws.kms_key_arn",
            )
        elif aws.kms_key_arn.split(":")[3] != aws.region:
            found.error(
                "aws.kms_key_arn",
                f"EKS encrypts with a KMS key of its own region ({aws.region}), not of "
                + aws.kms_key_arn.split(":")[3],
                f"give a key created in {aws.region}, or remove aws.kms_key_arn to let "
                "kfstack create one",
            )
    net = aws.network
    if net.existing:
        if len(net.private_subnet_ids) < 2:
            found.error(
                "aws.network.private_subnet_ids",
                "an existing VPC needs at least two private subnets (EKS spans two zones)",
                "list the private subnet ids of two or more zones",
            )
    else:
        if net.private_subnet_ids or net.public_subnet_ids:
            found.error(
                "aws.network.vpc_id",
                "subnet ids given without the VPC they belong to",
                "set aws.network.vpc_id, or remove the subnet ids for a new VPC",
            )
        if aws.zones and len(aws.zones) < 2:
            found.error(
                "aws.zones",
                "EKS needs subnets in at least two availability zones",
                "list two or more zones",
            )
        elif not aws.zones:
            # Only a catalogued region gets default zones; the new VPC (and any pool
            # pinned to zones) needs them to place its subnets.
            found.error(
                "aws.zones",
                f"the catalog does not list the zones of {aws.region}, and a new VPC needs them",
                f"list two or more zones, e.g. zones: [{aws.region}a, {aws.region}b]",
            )


# Cluster names: GKE allows 40 characters; AKS's DNS prefix (kfstack uses the cluster
# name) 54. kfstack names the cluster <name>-<environment>.
_CLUSTER_NAME_LIMIT = {"gcp": 40, "azure": 54}


def _check_cluster_name(spec: m.Spec, found: Findings) -> None:
    limit = _CLUSTER_NAME_LIMIT.get(spec.target)
    if limit is not None and len(spec.full_name) > limit:
        found.error(
            "name",
            f"the cluster name {spec.full_name!r} (<name>-<environment>) is longer than "
            f"the {limit} characters {spec.target} allows",
            "shorten name or environment",
        )


def _check_gcp_network(spec: m.Spec, found: Findings) -> None:
    net = spec.gcp.network if spec.gcp else None
    if net is None:
        return
    given = {
        name: getattr(net, name)
        for name in ("subnetwork", "pods_range_name", "services_range_name")
        if getattr(net, name) is not None
    }
    if net.existing:
        for name in ("subnetwork", "pods_range_name", "services_range_name"):
            if name not in given:
                found.error(
                    f"gcp.network.{name}",
                    "an existing network needs its subnetwork and both secondary ranges "
                    "(GKE is VPC-native)",
                    f"set gcp.network.{name}",
                )
    elif given:
        found.error(
            "gcp.network.network",
            "subnetwork or range names given without the network they belong to",
            "set gcp.network.network, or remove them for a new network",
        )


# AKS names Linux node pools with 1-12 lower-case letters and digits; its default pool is
# called `critical` by kfstack (stacks.azure), which a spec pool must not reuse.
_AZURE_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")


def _check_azure_pools(spec: m.Spec, found: Findings) -> None:
    for index, pool in enumerate(spec.node_pools):
        path = f"node_pools[{index}]"
        if not _AZURE_POOL_NAME.fullmatch(pool.name):
            found.error(
                f"{path}.name",
                f"AKS pool names are 1-12 lower-case letters and digits, not {pool.name!r}",
                "for example " + (re.sub(r"[^a-z0-9]", "", pool.name)[:12] or "pool1"),
            )
        elif pool.name == "critical":
            found.error(
                f"{path}.name",
                "`critical` is the name of AKS's system pool",
                "choose another name",
            )
        if pool.spot and pool.role == "system":
            found.error(
                f"{path}.spot",
                "AKS does not run system pools on spot VMs",
                "set spot: false on the system pool",
            )
    if spec.azure is not None:
        _check_azure_system_pool(spec.azure.system_pool, found)
    net = spec.azure.network if spec.azure else None
    if net is not None and net.vnet_id is not None and net.subnet_id is None:
        found.error(
            "azure.network.subnet_id",
            "an existing VNet needs the subnet the nodes join",
            "set azure.network.subnet_id",
        )


def _check_azure_system_pool(system: m.AzureSystemPool, found: Findings) -> None:
    if system.vm_size is None:
        system.vm_size = DEFAULT_INSTANCE["azure"]
        return
    inst = _catalog.load().cloud("azure").instance(system.vm_size)
    if inst is None:
        found.warn(
            "azure.system_pool.vm_size",
            f"{system.vm_size} is not in the catalog; "
            "it is passed through unchecked and left out of cost estimates",
        )
    elif inst.gpu:
        found.error(
            "azure.system_pool.vm_size",
            f"{inst.name} has {inst.gpu_count} x {inst.gpu}; the critical pool runs only "
            "AKS's own add-ons, so its GPUs would sit idle",
            f"use a CPU size such as {DEFAULT_INSTANCE['azure']}, and a GPU pool in node_pools",
        )


def _check_pool(spec, pool: m.NodePool, path: str, cat, region: str, found: Findings) -> None:
    if pool.min > pool.max:
        found.error(
            f"{path}.min", f"min ({pool.min}) is larger than max ({pool.max})", "make min <= max"
        )
    if pool.desired is not None and not pool.min <= pool.desired <= pool.max:
        found.error(
            f"{path}.desired",
            f"desired ({pool.desired}) is outside min..max ({pool.min}..{pool.max})",
        )
    if pool.max == 0:
        found.error(f"{path}.max", "max must be at least 1")
    for zindex, zone in enumerate(pool.zones):
        if not _zone_in_region(spec.target, zone, region):
            found.error(f"{path}.zones[{zindex}]", f"zone {zone!r} is not in region {region}")
        elif spec.target_block.zones and zone not in spec.target_block.zones:
            found.error(
                f"{path}.zones[{zindex}]",
                f"zone {zone!r} is not one of {spec.target}.zones",
                f"add it to {spec.target}.zones or remove it here",
            )
    for key, value in pool.labels.items():
        if not m._LABEL_KEY.fullmatch(key) or len(value) > 63:
            found.error(f"{path}.labels", f"{key}={value} is not a valid Kubernetes label")

    if pool.gpu is None:
        if pool.role == "gpu":
            found.error(
                f"{path}.gpu",
                "role is gpu but no gpu block is given",
                "add gpu: {model: ..., count: ...}",
            )
            return
        if pool.instance_type is None:
            pool.instance_type = DEFAULT_INSTANCE[spec.target]
            return
        inst = cat.instance(pool.instance_type)
        if inst is not None and inst.gpu:
            found.error(
                f"{path}.gpu",
                f"{inst.name} has {inst.gpu_count} x {inst.gpu} but the pool has no gpu block",
                f"add gpu: {{model: {inst.gpu}, count: {inst.gpu_count}}}",
            )
        elif inst is None:
            found.warn(
                f"{path}.instance_type",
                f"{pool.instance_type} is not in the catalog; "
                "it is passed through unchecked and left out of cost estimates",
            )
        return

    # GPU pool.
    if pool.role == "system":
        found.error(
            f"{path}.role",
            "a GPU pool cannot be the system pool",
            "add a CPU pool with role: system",
        )
    model_name = _catalog.load().resolve_gpu(pool.gpu.model)
    gpu_path = f"{path}.gpu.model"
    if model_name is None:
        guess = _catalog.load().suggest_gpu(pool.gpu.model)
        found.error(
            gpu_path,
            f"unknown GPU model {pool.gpu.model!r}",
            f"did you mean {guess}?" if guess else "see `kfstack catalog`",
        )
        return
    pool.gpu.model = model_name
    offered = cat.gpu_instances(model_name)
    if not offered:
        found.error(
            gpu_path,
            f"{spec.target} offers no {model_name} instances",
            "GPU models on "
            + spec.target
            + ": "
            + ", ".join(sorted({i.gpu for i in cat.gpu_instances()})),
        )
        return
    if pool.instance_type is None:
        choice = cat.pick_instance(model_name, pool.gpu.count, region)
        if choice is None:
            where = sorted({r for i in offered for r in i.prices})
            counts = sorted({i.gpu_count for i in offered if region in i.prices})
            if counts:
                found.error(
                    f"{path}.gpu.count",
                    f"no {spec.target} instance in {region} has {pool.gpu.count} x {model_name}",
                    "counts offered there: " + ", ".join(map(str, counts)),
                )
            else:
                found.error(
                    gpu_path,
                    f"{model_name} is not offered in {region}",
                    "offered in: " + ", ".join(where),
                )
            return
        pool.instance_type = choice.name
        return
    inst = cat.instance(pool.instance_type)
    if inst is None:
        guess = cat.suggest_instance(pool.instance_type)
        options = ", ".join(i.name for i in offered)
        found.error(
            f"{path}.instance_type",
            f"{pool.instance_type} is not a known {model_name} instance type",
            (f"did you mean {guess}? " if guess else "") + f"{model_name}: {options}",
        )
        return
    if inst.gpu != model_name or inst.gpu_count != pool.gpu.count:
        have = f"{inst.gpu_count} x {inst.gpu}" if inst.gpu else "no GPU"
        matching = [i.name for i in offered if i.gpu_count == pool.gpu.count]
        found.error(
            f"{path}.instance_type",
            f"{inst.name} has {have}, not {pool.gpu.count} x {model_name}",
            "matching types: " + (", ".join(matching) or "none; change gpu.count"),
        )
        return
    if region not in inst.prices:
        found.error(
            f"{path}.instance_type",
            f"{inst.name} is not offered in {region}",
            "offered in: " + ", ".join(inst.regions),
        )


def _assign_system_pool(spec: m.Spec, found: Findings) -> None:
    systems = [p for p in spec.node_pools if p.role == "system"]
    if not systems:
        implicit = [
            p for p in spec.node_pools if p.gpu is None and "role" not in p.model_fields_set
        ]
        if implicit:
            implicit[0].role = "system"
            systems = [implicit[0]]
    if not systems:
        found.error(
            "node_pools",
            "no system pool: Kubeflow's controllers need a CPU pool",
            "add a pool with role: system",
        )
    elif len(systems) > 1:
        found.error(
            "node_pools",
            "more than one pool has role: system",
            "keep role: system on one pool and use role: cpu on the others",
        )
    elif systems[0].min < 1:
        index = spec.node_pools.index(systems[0])
        found.error(f"node_pools[{index}].min", "the system pool needs at least one node")


# ---------------------------------------------------------------------------- bare metal

_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _check_baremetal(spec: m.Spec, found: Findings) -> None:
    bm = spec.baremetal
    assert bm is not None
    if not any(h.role == "server" for h in bm.hosts):
        found.error(
            "baremetal.hosts",
            "no host has role: server",
            "give one host role: server (it runs the control plane)",
        )
    seen_names: set[str] = set()
    seen_addresses: set[tuple[str, int]] = set()
    for index, host in enumerate(bm.hosts):
        path = f"baremetal.hosts[{index}]"
        if host.name in seen_names:
            found.error(f"{path}.name", f"host name {host.name!r} is used twice")
        if (host.address, host.port) in seen_addresses:
            found.error(f"{path}.address", f"{host.address}:{host.port} is listed twice")
        seen_names.add(host.name)
        seen_addresses.add((host.address, host.port))
        if host.gpu is not None:
            model_name = _catalog.load().resolve_gpu(host.gpu)
            if model_name is None:
                guess = _catalog.load().suggest_gpu(host.gpu)
                found.error(
                    f"{path}.gpu",
                    f"unknown GPU model {host.gpu!r}",
                    f"did you mean {guess}?" if guess else "see `kfstack catalog`",
                )
            else:
                host.gpu = model_name
        for key, value in host.labels.items():
            # k3s takes them as --node-label flags; a bad one would only fail on the host.
            if not m._LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
                found.error(
                    f"{path}.labels",
                    f"{key}={value} is not a Kubernetes label",
                    "use letters, digits, '-', '_' and '.', at most 63 characters per value",
                )
    if bm.airgap is not None and bm.airgap.install_script is None:
        found.error(
            "baremetal.airgap.install_script",
            "air-gapped hosts cannot download the k3s install script",
            "download https://get.k3s.io once and give its local path",
        )


HOST_KEYS_HINT = (
    "run `kfstack hostkeys --write -c <this spec>` and compare the fingerprints it prints "
    "with each machine's console, or set baremetal.host_key_checking: accept-new to trust "
    "keys on first use"
)


def _check_host_keys(spec: m.Spec, found: Findings, *, required: bool) -> None:
    bm = spec.baremetal
    assert bm is not None
    unpinned = [(index, host) for index, host in enumerate(bm.hosts) if host.host_key is None]
    if not unpinned:
        return
    if bm.host_key_checking == "accept-new":
        names = ", ".join(host.name for _, host in unpinned)
        found.warn(
            "baremetal.host_key_checking",
            f"accept-new: the SSH host keys of {names} are trusted on first contact and "
            "Terraform checks none for them, so whoever answers at those addresses first "
            "receives the cluster token and the admin kubeconfig",
            "pin them with `kfstack hostkeys --write`",
        )
    elif required:
        for position, (index, _) in enumerate(unpinned):
            found.error(
                f"baremetal.hosts[{index}].host_key",
                "required while baremetal.host_key_checking is strict (the default)",
                HOST_KEYS_HINT if position == 0 else None,
            )


# ---------------------------------------------------------------------------- storage


def _check_storage(spec: m.Spec, found: Findings) -> None:
    if spec.storage.rwo_class == spec.storage.rwx_class:
        found.error(
            "storage.rwx_class",
            "the RWX class needs a name of its own",
            "give storage.rwo_class and storage.rwx_class different names",
        )
    if spec.storage.snapshots and spec.target == "baremetal" and not spec.storage.rwx:
        # local-path volumes cannot be snapshotted; the snapshot class kfstack renders on
        # bare metal belongs to the NFS CSI driver, which comes with the RWX class.
        found.error(
            "storage.snapshots",
            "bare metal takes snapshots only of NFS volumes (the local-path RWO class has"
            " no snapshot support), and the NFS driver comes with the RWX class",
            "set storage.rwx: true with baremetal.nfs, or storage.snapshots: false",
        )
    if spec.storage.snapshots and spec.target == "existing":
        found.warn(
            "storage.snapshots",
            "kfstack installs no snapshot controller or VolumeSnapshotClass on an existing"
            " cluster; the cluster's own snapshot setup (if any) is used",
        )
    if not spec.storage.rwx:
        return
    if spec.target == "baremetal" and spec.baremetal and spec.baremetal.nfs is None:
        found.error(
            "storage.rwx",
            "bare metal provides RWX volumes only from an NFS export",
            "set baremetal.nfs.server and baremetal.nfs.path, or storage.rwx: false",
        )
    if spec.target == "existing" and spec.existing and spec.existing.rwx_class is None:
        found.error(
            "storage.rwx",
            "kfstack cannot create RWX storage on an existing cluster",
            "name the cluster's RWX StorageClass in existing.rwx_class",
        )


# ---------------------------------------------------------------------------- kubeflow


_ISSUER_TYPES = {"okta", "pingid", "oidc"}


def _check_kubeflow(spec: m.Spec, found: Findings) -> None:
    kf = spec.kubeflow
    ids: set[str] = set()
    for index, conn in enumerate(kf.auth.connectors):
        path = f"kubeflow.auth.connectors[{index}]"
        if conn.connector_id in ids:
            found.error(
                f"{path}.id",
                f"connector id {conn.connector_id!r} is used twice",
                "give each connector its own id",
            )
        ids.add(conn.connector_id)
        if conn.client_secret is None:
            found.error(
                f"{path}.client_secret",
                f"the {conn.type} connector has no secret reference",
                "set client_secret: {env: VAR} or {file: path}",
            )
        if conn.type in _ISSUER_TYPES and not conn.issuer:
            found.error(f"{path}.issuer", f"the {conn.type} connector needs its issuer URL")
        if conn.issuer and not conn.issuer.startswith("https://"):
            found.error(f"{path}.issuer", "the issuer must be an https:// URL")
        if conn.type == "entra" and not conn.tenant_id:
            found.error(f"{path}.tenant_id", "the entra connector needs the tenant id")
    if not kf.auth.admin.enabled and not kf.auth.connectors:
        found.error(
            "kubeflow.auth",
            "no way to sign in: the static admin is off and there are no connectors",
            "add a connector or set auth.admin.enabled: true",
        )
    if kf.tls.issuer == "acme":
        if not kf.domain:
            found.error("kubeflow.domain", "ACME certificates need a domain")
        if not kf.tls.acme_email:
            found.error("kubeflow.tls.acme_email", "ACME needs a contact e-mail address")
    team_names: set[str] = set()
    for index, team in enumerate(kf.teams):
        if team.name in team_names:
            found.error(f"kubeflow.teams[{index}].name", f"team {team.name!r} is listed twice")
        team_names.add(team.name)
        if team.name in {
            "kubeflow",
            "kube-system",
            "istio-system",
            "auth",
            "cert-manager",
            "knative-serving",
            "oauth2-proxy",
            "default",
        }:
            found.error(
                f"kubeflow.teams[{index}].name",
                f"{team.name!r} is a system namespace",
                "choose another team name",
            )
        has_gpus = bool(spec.gpu_pools) or bool(
            spec.baremetal and any(h.gpu for h in spec.baremetal.hosts)
        )
        if team.quota and team.quota.gpu and not has_gpus and spec.target != "existing":
            found.warn(
                f"kubeflow.teams[{index}].quota.gpu",
                "a GPU quota is set but the platform has no GPU nodes",
            )


def _check_gitops(spec: m.Spec, found: Findings) -> None:
    git = spec.gitops
    if not git.enabled:
        return
    scheme = m.git_url_scheme(git.repository)
    if git.credential is not None and scheme not in ("https", "http"):
        found.error(
            "gitops.credential",
            f"a credential is sent only to https remotes, not to {scheme or 'a local path'}",
            "ssh and local repositories use your git/ssh configuration; remove it",
        )
    if scheme == "http":
        found.warn(
            "gitops.repository",
            "http:// sends the render and any credential unencrypted",
            "use https:// or ssh",
        )


def _check_state(spec: m.Spec, found: Findings) -> None:
    st = spec.state
    need = {
        "s3": ("bucket", "region"),
        "gcs": ("bucket",),
        "azurerm": ("storage_account", "container", "resource_group"),
        "local": (),
    }[st.backend]
    for name in need:
        if getattr(st, name) is None:
            found.error(f"state.{name}", f"state backend {st.backend} needs state.{name}")
