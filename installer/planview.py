"""The plan view: what `kfstack plan` and the first screen of `up` show before anything changes.

`build(spec, tf_summary=None, platform_diff=None)` turns a validated spec (derived
defaults already filled in by `installer.spec.rules`) and the shipped catalog into a
`Plan`: plain dataclasses, so the same object renders as one screen of text and as
JSON without a second source of truth. The two slots other layers fill are typed here
so both sides agree on their shape:

    Plan
    ├── cluster      target, region/zones, Kubernetes version, network (new or existing)
    ├── pools        one row per node pool (or bare-metal host), with hourly cost
    ├── storage      the StorageClasses (and snapshot class) that will exist
    ├── kubeflow     version, components, auth connectors, teams, domain
    ├── cost         totals at minimum and maximum scale, the prices' date, unpriced pools
    ├── terraform    TerraformSummary | None   (the runner: `terraform show -json` of a plan)
    └── platform     PlatformDiff | None       (the install engine: create/change/prune)

Costs come only from the catalog: a pool whose instance type the catalog does not price
in the region is listed as unpriced and left out of the totals, never estimated. Bare
metal and existing clusters have no hourly cost.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from installer import catalog as _catalog
from installer.console import plain_mode
from installer.spec.model import Spec

# The CSI drivers behind the classes the platform layer renders, per target: the same
# facts as the platform's target profiles (`installer/platform/targets.py`, issue 5), shown
# so a reader knows what each class is backed by. TODO(verify): read them from
# `installer.platform.targets.profile()` once it is on main, and drop this table.
_PROVISIONERS: dict[str, dict[str, str]] = {
    "aws": {
        "rwo": "ebs.csi.aws.com (gp3)",
        "rwx": "efs.csi.aws.com",
        "snapshots": "ebs.csi.aws.com",
    },
    "gcp": {
        "rwo": "pd.csi.storage.gke.io (pd-balanced)",
        "rwx": "filestore.csi.storage.gke.io",
        "snapshots": "pd.csi.storage.gke.io",
    },
    "azure": {
        "rwo": "disk.csi.azure.com (StandardSSD_LRS)",
        "rwx": "file.csi.azure.com",
        "snapshots": "disk.csi.azure.com",
    },
    "baremetal": {
        "rwo": "rancher.io/local-path",
        "rwx": "nfs.csi.k8s.io",
        "snapshots": "nfs.csi.k8s.io",
    },
}
SNAPSHOT_CLASS = "kfstack-snapshots"  # the VolumeSnapshotClass the platform layer renders


# ---------------------------------------------------------------------------- model


@dataclass
class Network:
    kind: str  # "new" | "existing" | "hosts" | "cluster"
    details: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in self.details.items() if v not in (None, []))
        return f"{self.kind}: {parts}" if parts else self.kind


@dataclass
class Cluster:
    target: str
    name: str
    region: str | None
    zones: list[str]
    kubernetes_version: str
    network: Network


@dataclass
class PoolRow:
    """One node pool (or bare-metal host). Costs are USD/hour, None when unpriced."""

    name: str
    role: str
    instance_type: str | None
    gpu_model: str | None
    gpu_count: int
    min: int
    desired: int
    max: int
    spot: bool
    taints: list[str]
    zones: list[str] = field(default_factory=list)
    hourly_price: float | None = None
    cost_min: float | None = None
    cost_max: float | None = None
    unpriced_reason: str | None = None

    @property
    def gpus_min(self) -> int:
        return self.gpu_count * self.min

    @property
    def gpus_max(self) -> int:
        return self.gpu_count * self.max


@dataclass
class StorageClassRow:
    name: str
    access: str  # ReadWriteOnce | ReadWriteMany | snapshots
    default: bool
    provisioner: str
    created: bool  # False: an existing class kfstack only uses


@dataclass
class KubeflowPlan:
    version: str
    components: list[str]
    connectors: list[str]
    static_admin: str | None
    teams: list[dict[str, Any]]
    domain: str | None
    tls: str


@dataclass
class Cost:
    currency: str | None
    as_of: str | None
    hourly_min: float | None
    hourly_max: float | None
    unpriced: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def complete(self) -> bool:
        return not self.unpriced


@dataclass
class Changes:
    create: int = 0
    change: int = 0
    delete: int = 0

    @property
    def total(self) -> int:
        return self.create + self.change + self.delete

    @classmethod
    def sum(cls, rows: Iterable[Changes]) -> Changes:
        rows = list(rows)
        return cls(
            sum(c.create for c in rows), sum(c.change for c in rows), sum(c.delete for c in rows)
        )


@dataclass
class TerraformSummary:
    """Adds/changes/destroys by resource type (a replacement is one add and one destroy,
    as `terraform plan` counts it). The runner parses Terraform; this only shows counts."""

    by_type: dict[str, Changes] = field(default_factory=dict)

    @classmethod
    def from_by_type(cls, by_type: dict[str, dict[str, int]]) -> TerraformSummary:
        """From counts per resource type as the Terraform runner keeps them
        (`{"aws_vpc": {"add": 1, "change": 0, "destroy": 0}}`, `PlanSummary.by_type`)."""
        return cls(
            {
                rtype: Changes(
                    int(counts.get("add", 0)),
                    int(counts.get("change", 0)),
                    int(counts.get("destroy", 0)),
                )
                for rtype, counts in by_type.items()
            }
        )

    @classmethod
    def from_plan_summary(cls, summary: Any) -> TerraformSummary:
        """From the runner's `installer.terraform.PlanSummary` (its `by_type` counts)."""
        return cls(
            {
                rtype: Changes(
                    counts.get("add", 0), counts.get("change", 0), counts.get("destroy", 0)
                )
                for rtype, counts in sorted(summary.by_type.items())
            }
        )

    @property
    def totals(self) -> Changes:
        return Changes.sum(self.by_type.values())


@dataclass
class PlatformDiff:
    """Objects to create/change/prune per platform component (`delete` counts prunes)."""

    by_component: dict[str, Changes] = field(default_factory=dict)

    @classmethod
    def from_components(cls, plans: Iterable[Any]) -> PlatformDiff:
        """From the install engine's per-component plans (`name` and the `create`,
        `change` and `prune` lists of object references, `engine.plan.ComponentPlan`)."""
        return cls(
            {
                plan.name: Changes(len(plan.create), len(plan.change), len(plan.prune))
                for plan in plans
            }
        )

    @property
    def totals(self) -> Changes:
        return Changes.sum(self.by_component.values())


@dataclass
class Plan:
    cluster: Cluster
    pools: list[PoolRow]
    storage: list[StorageClassRow]
    kubeflow: KubeflowPlan
    cost: Cost
    terraform: TerraformSummary | None = None
    platform: PlatformDiff | None = None

    def gpu_totals(self) -> dict[str, tuple[int, int]]:
        """GPU model → (GPUs at minimum scale, GPUs at maximum scale)."""
        totals: dict[str, tuple[int, int]] = {}
        for row in self.pools:
            if row.gpu_model:
                low, high = totals.get(row.gpu_model, (0, 0))
                totals[row.gpu_model] = (low + row.gpus_min, high + row.gpus_max)
        return totals

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (`--output json`): every field, plus derived totals."""
        data = dataclasses.asdict(self)
        for row, out in zip(self.pools, data["pools"], strict=True):
            out["gpus_min"], out["gpus_max"] = row.gpus_min, row.gpus_max
        data["gpu_totals"] = {m: {"min": a, "max": b} for m, a, b in _flat(self.gpu_totals())}
        if self.terraform is not None:
            data["terraform"]["totals"] = dataclasses.asdict(self.terraform.totals)
        if self.platform is not None:
            data["platform"]["totals"] = dataclasses.asdict(self.platform.totals)
        return data


def _flat(totals: dict[str, tuple[int, int]]) -> Iterable[tuple[str, int, int]]:
    return ((model, low, high) for model, (low, high) in sorted(totals.items()))


# ---------------------------------------------------------------------------- build


def build(
    spec: Spec,
    tf_summary: TerraformSummary | Any = None,
    platform_diff: PlatformDiff | Iterable[Any] | None = None,
) -> Plan:
    """The plan for a spec that `installer.spec.load_spec` validated (defaults filled in).

    `tf_summary` is a `TerraformSummary`, or the runner's own plan summary (anything with
    a `by_type` mapping of add/change/destroy counts); `platform_diff` is a
    `PlatformDiff` or the install engine's component plans. Raises nothing for a valid spec;
    catalog gaps become "unpriced" rows, not errors.
    """
    if tf_summary is not None and not isinstance(tf_summary, TerraformSummary):
        tf_summary = TerraformSummary.from_by_type(tf_summary.by_type)
    if platform_diff is not None and not isinstance(platform_diff, PlatformDiff):
        platform_diff = PlatformDiff.from_components(platform_diff)
    pools = _pools(spec)
    return Plan(
        cluster=_cluster(spec),
        pools=pools,
        storage=_storage(spec),
        kubeflow=_kubeflow(spec),
        cost=_cost(spec, pools),
        terraform=tf_summary,
        platform=platform_diff,
    )


def _cluster(spec: Spec) -> Cluster:
    block = spec.target_block
    zones = [str(z) for z in getattr(block, "zones", [])]
    version = spec.kubernetes.version
    if spec.target == "aws":
        net = spec.aws.network
        network = (
            Network("existing", {"vpc": net.vpc_id, "private subnets": net.private_subnet_ids})
            if net.existing
            else Network("new", {"vpc cidr": net.cidr, "nat": net.nat})
        )
    elif spec.target == "gcp":
        net = spec.gcp.network
        network = (
            Network("existing", {"network": net.network, "subnetwork": net.subnetwork})
            if net.existing
            else Network("new", {"cidr": net.cidr, "pods": net.pods_cidr})
        )
    elif spec.target == "azure":
        net = spec.azure.network
        network = (
            Network("existing", {"subnet": net.subnet_id})
            if net.existing
            else Network("new", {"vnet cidr": net.cidr, "nodes": net.node_cidr})
        )
    elif spec.target == "baremetal":
        bm = spec.baremetal
        network = Network(
            "hosts", {"distribution": f"{bm.distribution} {bm.version}", "hosts": len(bm.hosts)}
        )
    else:
        ex = spec.existing
        network = Network("cluster", {"kubeconfig": ex.kubeconfig, "context": ex.context})
        version = f"{version} (expected; the cluster's own)"
    return Cluster(
        target=spec.target,
        name=spec.full_name,
        region=spec.region,
        zones=zones,
        kubernetes_version=version,
        network=network,
    )


def _taint(t: Any) -> str:
    return f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"


def _pools(spec: Spec) -> list[PoolRow]:
    if spec.target == "baremetal":
        return [
            PoolRow(
                name=h.name,
                role="server" if h.role == "server" else ("gpu" if h.gpu else "agent"),
                instance_type=None,
                gpu_model=h.gpu,
                gpu_count=h.gpu_count if h.gpu else 0,
                min=1,
                desired=1,
                max=1,
                spot=False,
                taints=[],
                unpriced_reason="your own machine",
            )
            for h in spec.baremetal.hosts
        ]
    if spec.target not in _catalog.CLOUDS:
        return []
    cat = _catalog.load().cloud(spec.target)
    region = spec.region or ""
    rows = []
    if spec.target == "azure":
        # AKS's own system pool is not a spec pool, but it runs (and bills) all the same.
        system = spec.azure.system_pool
        rows.append(
            PoolRow(
                name="critical",
                role="AKS add-ons",
                instance_type=system.vm_size,
                gpu_model=None,
                gpu_count=0,
                min=system.min,
                desired=system.min,
                max=system.max,
                spot=False,
                taints=["CriticalAddonsOnly=true:NoSchedule"],
            )
        )
    for pool in spec.node_pools:
        rows.append(
            PoolRow(
                name=pool.name,
                role=pool.role or "cpu",
                instance_type=pool.instance_type,
                gpu_model=pool.gpu.model if pool.gpu else None,
                gpu_count=pool.gpu.count if pool.gpu else 0,
                min=pool.min,
                desired=pool.effective_desired,
                max=pool.max,
                spot=pool.spot,
                taints=[_taint(t) for t in pool.effective_taints],
                zones=list(pool.zones),
            )
        )
    for row in rows:
        inst = cat.instance(row.instance_type or "")
        if inst is None:
            row.unpriced_reason = f"{row.instance_type} is not in the {spec.target} catalog"
        elif region not in inst.prices:
            row.unpriced_reason = f"the catalog has no {inst.name} price for {region}"
        else:
            row.hourly_price = inst.prices[region].hourly(row.spot)
            row.cost_min = round(row.hourly_price * row.min, 4)
            row.cost_max = round(row.hourly_price * row.max, 4)
    return rows


def _storage(spec: Spec) -> list[StorageClassRow]:
    st = spec.storage
    if spec.target == "existing":
        ex = spec.existing
        rows = [
            StorageClassRow(
                ex.rwo_class or "(cluster default)", "ReadWriteOnce", True, "existing", False
            )
        ]
        if st.rwx and ex.rwx_class:
            rows.append(StorageClassRow(ex.rwx_class, "ReadWriteMany", False, "existing", False))
        return rows
    drivers = _PROVISIONERS[spec.target]
    rows = [StorageClassRow(st.rwo_class, "ReadWriteOnce", True, drivers["rwo"], True)]
    if st.rwx:
        rows.append(StorageClassRow(st.rwx_class, "ReadWriteMany", False, drivers["rwx"], True))
    if st.snapshots:
        rows.append(
            StorageClassRow(SNAPSHOT_CLASS, "snapshots", False, drivers["snapshots"], True)
        )
    return rows


def _kubeflow(spec: Spec) -> KubeflowPlan:
    kf = spec.kubeflow
    teams = []
    for team in kf.teams:
        quota = team.quota.model_dump(exclude_none=True) if team.quota else {}
        teams.append(
            {"name": team.name, "owners": list(team.owners), "members": len(team.members)}
            | ({"quota": quota} if quota else {})
        )
    return KubeflowPlan(
        version=kf.version,
        components=kf.components.enabled(),
        connectors=[f"{c.type}:{c.connector_id}" for c in kf.auth.connectors],
        static_admin=kf.auth.admin.email if kf.auth.admin.enabled else None,
        teams=teams,
        domain=kf.domain,
        tls=kf.tls.issuer,
    )


def _cost(spec: Spec, pools: list[PoolRow]) -> Cost:
    if spec.target not in _catalog.CLOUDS:
        what = "machines you own" if spec.target == "baremetal" else "a cluster you run"
        return Cost(None, None, None, None, note=f"no cost estimate: {what}")
    cat = _catalog.load().cloud(spec.target)
    priced = [p for p in pools if p.hourly_price is not None]
    return Cost(
        currency=cat.currency,
        as_of=cat.as_of,
        hourly_min=round(sum(p.cost_min for p in priced), 4),
        hourly_max=round(sum(p.cost_max for p in priced), 4),
        unpriced=[p.name for p in pools if p.hourly_price is None],
        note="node pools only: control plane, NAT, load balancers and storage are not included",
    )


# ---------------------------------------------------------------------------- render


def render(plan: Plan, *, stream: TextIO | None = None, rich: bool | None = None) -> None:
    """Write the plan to `stream` (stdout): a rich table on a terminal, plain text otherwise."""
    stream = stream or sys.stdout
    use_rich = (not plain_mode(stream)) if rich is None else rich
    if use_rich:
        _render_rich(plan, stream)
    else:
        stream.write(render_text(plan))
        stream.flush()


def render_text(plan: Plan) -> str:
    """The plan as plain text (no colours, fixed columns), one screen for typical specs."""
    out = io.StringIO()
    c = plan.cluster
    where = f" {c.region}" if c.region else ""
    if c.zones:
        where += f" ({', '.join(c.zones)})"
    out.write(f"Plan for {c.name} on {c.target}{where}, Kubernetes {c.kubernetes_version}\n")
    out.write(f"  network   {c.network.describe()}\n")
    if plan.pools:
        out.write("\n")
        out.write(_table(_pool_header(), [_pool_cells(p, plan.cost) for p in plan.pools]))
        totals = plan.gpu_totals()
        if totals:
            out.write(
                "  GPUs: "
                + ", ".join(f"{m} {a}..{b}" for m, a, b in _flat(totals))
                + " (min..max)\n"
            )
    out.write("\n" + _cost_line(plan.cost) + "\n")
    out.write("\nStorage classes\n")
    out.write(
        _table(["class", "access", "backed by"], [_storage_cells(sc) for sc in plan.storage])
    )
    kf = plan.kubeflow
    out.write(f"\nKubeflow {kf.version}: {', '.join(kf.components)}\n")
    sign_in = list(kf.connectors) + (
        [f"static admin {kf.static_admin}"] if kf.static_admin else []
    )
    out.write(f"  sign-in   {', '.join(sign_in) or '-'}\n")
    out.write(f"  teams     {', '.join(t['name'] for t in kf.teams) or '-'}\n")
    out.write(f"  domain    {kf.domain or '(load balancer address)'}, TLS {kf.tls}\n")
    if plan.terraform is not None:
        out.write("\n" + _changes_block("Terraform", plan.terraform.by_type, "resources"))
    if plan.platform is not None:
        out.write("\n" + _changes_block("Platform", plan.platform.by_component, "objects"))
    return out.getvalue()


def _storage_cells(sc: StorageClassRow) -> list[str]:
    name = sc.name + (" (default)" if sc.default else "")
    return [name, sc.access, sc.provisioner if sc.created else "existing class, kept as is"]


def _pool_header() -> list[str]:
    return ["pool", "role", "instance", "gpu", "min/des/max", "spot", "taints", "$/h min..max"]


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _pool_cells(p: PoolRow, cost: Cost) -> list[str]:
    if p.hourly_price is not None:
        price = f"{_money(p.cost_min)}..{_money(p.cost_max)}"
    elif cost.currency is None:
        price = "-"
    else:
        price = "unpriced"
    return [
        p.name,
        p.role,
        p.instance_type or "-",
        f"{p.gpu_count}x {p.gpu_model}" if p.gpu_model else "-",
        f"{p.min}/{p.desired}/{p.max}",
        "spot" if p.spot else "-",
        ", ".join(p.taints) or "-",
        price,
    ]


def _cost_line(cost: Cost) -> str:
    if cost.currency is None:
        return f"Cost: {cost.note}"
    line = (
        f"Cost: {_money(cost.hourly_min)} {cost.currency}/h at minimum scale, "
        f"{_money(cost.hourly_max)} {cost.currency}/h at maximum (prices of {cost.as_of})"
    )
    if cost.unpriced:
        line += f"\n  unpriced, not in the totals: {', '.join(cost.unpriced)}"
    if cost.note:
        line += f"\n  {cost.note}"
    return line


def _changes_block(title: str, rows: dict[str, Changes], unit: str) -> str:
    total = Changes.sum(rows.values())
    verb = "prune" if title == "Platform" else "destroy"
    head = (
        f"{title}: {total.create} to create, {total.change} to change, {total.delete} to {verb}\n"
    )
    if not rows:
        return head + f"  no {unit} change\n"
    body = [
        [name, f"+{c.create}", f"~{c.change}", f"-{c.delete}"]
        for name, c in sorted(rows.items())
        if c.total
    ]
    return head + _table(["", "create", "change", verb], body)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True))
        for r in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


_TABLE_WIDTH = 110


def _render_rich(plan: Plan, stream: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, highlight=False, soft_wrap=False)
    c = plan.cluster
    zones = f" ({', '.join(c.zones)})" if c.zones else ""
    console.print(
        f"[bold]Plan for {c.name}[/] on {c.target}{' ' + c.region if c.region else ''}{zones}, "
        f"Kubernetes {c.kubernetes_version}\n  network   {c.network.describe()}",
        markup=True,
        soft_wrap=True,
    )
    if plan.pools:
        header = _pool_header()
        cells = [_pool_cells(row, plan.cost) for row in plan.pools]
        # Taints are the widest cells; on a narrow terminal they move under the table
        # (grouped by taint) so that no name, type or price is cut.
        narrow = console.width < _TABLE_WIDTH
        taint_col = header.index("taints")
        table = Table(box=None, pad_edge=False, header_style="bold")
        for index, name in enumerate(header):
            if narrow and index == taint_col:
                continue
            table.add_column(
                name, justify="right" if name.startswith("$") else "left", no_wrap=True
            )
        for row in cells:
            table.add_row(*(v for i, v in enumerate(row) if not (narrow and i == taint_col)))
        console.print(table)
        if narrow:
            groups: dict[str, list[str]] = {}
            for row in plan.pools:
                for taint in row.taints:
                    groups.setdefault(taint, []).append(row.name)
            for taint, pools in groups.items():
                console.print(f"  taint {taint}: {', '.join(pools)}", markup=False)
        totals = plan.gpu_totals()
        if totals:
            console.print(
                "  GPUs: "
                + ", ".join(f"{m} {a}..{b}" for m, a, b in _flat(totals))
                + " (min..max)",
                markup=False,
            )
    # The remaining sections are short lines: the plain form reads well on a terminal too.
    text = render_text(plan)
    console.print(text[text.index("\nCost:") :], markup=False, end="", soft_wrap=True)
