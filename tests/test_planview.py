"""The plan view's numbers follow from the spec and the shipped catalog; nothing is invented."""

from __future__ import annotations

import io
import json

import pytest

from installer import catalog, planview
from installer.spec import load_spec, parse_spec

AWS_SPEC = """
name: p
target: aws
aws: {region: us-west-2}
node_pools:
- {name: sys, role: system, instance_type: m6i.xlarge, min: 2, max: 3}
- {name: t4, gpu: {model: T4}, min: 1, desired: 2, max: 5, spot: true}
- {name: t4od, gpu: {model: T4}, min: 1, max: 5}
- {name: h100, gpu: {model: H100, count: 8}, min: 0, max: 2,
   taints: [{key: dedicated, value: llm, effect: NoExecute}]}
storage: {rwx: true, snapshots: true}
kubeflow:
  teams: [{name: a, owners: [a@x.io]}, {name: b, owners: [b@x.io], quota: {gpu: 4}}]
  domain: kf.x.io
"""


AS_OF = catalog.load().cloud("aws").as_of


def _price(instance: str, region: str = "us-west-2") -> catalog.Price:
    return catalog.load().cloud("aws").instance(instance).prices[region]


@pytest.fixture
def aws_plan() -> planview.Plan:
    return planview.build(parse_spec(AWS_SPEC).spec)


def test_each_pool_gets_one_row_with_its_instance_gpus_scale_and_taints(aws_plan):
    rows = {r.name: r for r in aws_plan.pools}
    assert list(rows) == ["sys", "t4", "t4od", "h100"]
    t4 = rows["t4"]
    assert (t4.instance_type, t4.gpu_model, t4.gpu_count) == ("g4dn.xlarge", "T4", 1)
    assert (t4.min, t4.desired, t4.max, t4.spot) == (1, 2, 5, True)
    assert t4.taints == ["nvidia.com/gpu=present:NoSchedule"]
    h100 = rows["h100"]
    assert (h100.instance_type, h100.gpu_count, h100.desired) == ("p5.48xlarge", 8, 0)
    assert h100.taints == ["dedicated=llm:NoExecute"]
    assert rows["sys"].role == "system" and rows["sys"].taints == []


def test_gpu_totals_multiply_gpus_per_node_by_the_node_counts(aws_plan):
    assert aws_plan.gpu_totals() == {"T4": (1 + 1, 5 + 5), "H100": (0, 16)}


def test_costs_use_the_spot_price_for_spot_pools_and_on_demand_otherwise(aws_plan):
    rows = {r.name: r for r in aws_plan.pools}
    g4 = _price("g4dn.xlarge")
    assert rows["t4"].hourly_price == g4.spot
    assert rows["t4od"].hourly_price == g4.on_demand
    assert rows["t4"].cost_min == pytest.approx(g4.spot * 1)
    assert rows["t4"].cost_max == pytest.approx(g4.spot * 5)
    assert rows["t4od"].cost_max == pytest.approx(g4.on_demand * 5)
    assert rows["t4"].cost_max < rows["t4od"].cost_max
    assert rows["h100"].cost_min == 0
    assert rows["h100"].cost_max == pytest.approx(_price("p5.48xlarge").on_demand * 2)


def test_total_cost_at_min_and_max_scale_sums_the_pools_and_carries_the_price_date(aws_plan):
    m6i, g4, p5 = _price("m6i.xlarge"), _price("g4dn.xlarge"), _price("p5.48xlarge")
    cost = aws_plan.cost
    assert cost.hourly_min == pytest.approx(2 * m6i.on_demand + g4.spot + g4.on_demand)
    assert cost.hourly_max == pytest.approx(
        3 * m6i.on_demand + 5 * g4.spot + 5 * g4.on_demand + 2 * p5.on_demand
    )
    # Hand-checked against installer/catalog/data/aws.yaml (us-west-2), so a catalog
    # misread fails here even if the code and the test read it the same wrong way.
    assert cost.hourly_max == pytest.approx(3 * 0.192 + 5 * 0.215 + 5 * 0.526 + 2 * 55.040)
    assert (cost.currency, cost.as_of, cost.unpriced) == ("USD", AS_OF, [])


def test_a_pool_the_catalog_cannot_price_is_unpriced_and_left_out_of_the_totals():
    loaded = parse_spec(
        "name: p\ntarget: aws\naws: {region: us-west-2}\nnode_pools:\n"
        "- {name: sys, role: system, instance_type: m6i.large, min: 1, max: 1}\n"
        "- {name: odd, instance_type: c7i.metal-48xl, min: 1, max: 2}\n"
    )
    plan = planview.build(loaded.spec)
    odd = plan.pools[1]
    assert odd.hourly_price is None and odd.cost_max is None
    assert "not in the aws catalog" in odd.unpriced_reason
    assert plan.cost.unpriced == ["odd"]
    assert plan.cost.hourly_max == pytest.approx(_price("m6i.large").on_demand)
    text = planview.render_text(plan)
    assert "unpriced" in text and "not in the totals: odd" in text


def test_bare_metal_and_existing_clusters_have_no_cost(examples):
    bm = planview.build(load_spec(examples / "baremetal.yaml").spec)
    assert bm.cost.hourly_min is None and bm.cost.currency is None
    assert [(r.name, r.gpu_model, r.gpu_count) for r in bm.pools][-1] == ("gpu1", "A100-80GB", 2)
    assert bm.gpu_totals() == {"A100-80GB": (2, 2)}
    ex = planview.build(load_spec(examples / "existing.yaml").spec)
    assert ex.pools == [] and ex.cost.hourly_max is None
    assert [(s.name, s.created) for s in ex.storage] == [("gp3", False)]
    assert "no cost estimate" in planview.render_text(ex)


def test_storage_kubeflow_and_network_sections_follow_the_spec(aws_plan):
    assert [(s.name, s.access, s.default) for s in aws_plan.storage] == [
        ("kfstack-rwo", "ReadWriteOnce", True),
        ("kfstack-rwx", "ReadWriteMany", False),
        ("kfstack-snapshots", "snapshots", False),
    ]
    assert aws_plan.cluster.network.kind == "new"
    assert aws_plan.cluster.zones == ["us-west-2a", "us-west-2b"]
    kf = aws_plan.kubeflow
    assert [t["name"] for t in kf.teams] == ["a", "b"]
    assert kf.teams[1]["quota"] == {"gpu": 4}
    assert (kf.domain, kf.version) == ("kf.x.io", "26.03")


def test_the_runners_plan_summary_fills_the_terraform_section_by_resource_type(aws_plan):
    class RunnerSummary:  # the shape of installer.terraform.PlanSummary.by_type
        by_type = {
            "aws_subnet": {"add": 4, "change": 0, "destroy": 0},
            "aws_eks_node_group": {"add": 1, "change": 0, "destroy": 1},
            "aws_eks_cluster": {"add": 0, "change": 1, "destroy": 0},
        }

    plan = planview.build(parse_spec(AWS_SPEC).spec, tf_summary=RunnerSummary())
    rows = {k: (c.create, c.change, c.delete) for k, c in plan.terraform.by_type.items()}
    assert rows["aws_eks_node_group"] == (1, 0, 1)
    totals = plan.terraform.totals
    assert (totals.create, totals.change, totals.delete) == (5, 1, 1)
    text = planview.render_text(plan)
    assert "Terraform: 5 to create, 1 to change, 1 to destroy" in text
    assert "aws_eks_node_group  +1      ~0      -1" in text


def test_the_engines_component_plans_fill_the_platform_section(aws_plan):
    class ComponentPlan:  # the shape of installer.engine.plan.ComponentPlan
        def __init__(self, name, create=(), change=(), prune=()):
            self.name, self.create, self.change, self.prune = name, create, change, prune

    plans = [
        ComponentPlan("cert-manager"),
        ComponentPlan("pipelines", create=["Deployment/kubeflow/ml-pipeline"] * 3, prune=["x"]),
    ]
    plan = planview.build(parse_spec(AWS_SPEC).spec, platform_diff=plans)
    assert plan.platform.by_component["pipelines"] == planview.Changes(3, 0, 1)
    text = planview.render_text(plan)
    assert "Platform: 3 to create, 0 to change, 1 to prune" in text
    assert "cert-manager" not in text.split("Platform:")[1]  # unchanged rows are left out


def test_json_form_has_every_section_and_the_slots_other_layers_fill(aws_plan):
    aws_plan.platform = planview.PlatformDiff({"pipelines": planview.Changes(12, 1, 3)})
    data = json.loads(json.dumps(aws_plan.to_dict()))
    assert data["cluster"]["target"] == "aws"
    assert data["gpu_totals"]["H100"] == {"min": 0, "max": 16}
    assert data["pools"][1]["gpus_max"] == 5
    assert data["terraform"] is None
    assert data["platform"]["totals"] == {"create": 12, "change": 1, "delete": 3}
    assert data["cost"]["as_of"] == AS_OF


def test_plain_rendering_is_one_screen_and_rich_rendering_names_every_pool(aws_plan):
    text = planview.render_text(aws_plan)
    assert len(text.splitlines()) < 40
    assert "T4 2..10" in text and "H100 0..16" in text
    assert f"prices of {AS_OF}" in text
    buffer = io.StringIO()
    planview.render(aws_plan, stream=buffer, rich=True)
    for name in ("sys", "t4od", "h100", "kfstack-rwx", "p5.48xlarge"):
        assert name in buffer.getvalue()
    # 80 columns: the taints move under the table, grouped, instead of cutting a column.
    assert "taint nvidia.com/gpu=present:NoSchedule: t4, t4od" in buffer.getvalue()


def test_the_aks_critical_pool_is_a_row_and_its_cost_is_in_the_total():
    spec = parse_spec(
        """
name: p
target: azure
azure: {subscription_id: 00000000-0000-0000-0000-000000000000, location: eastus,
        system_pool: {min: 2, max: 4}}
node_pools:
- {name: sys, role: system, instance_type: Standard_D4s_v5, min: 1, max: 2}
"""
    ).spec
    plan = planview.build(spec)
    rows = {r.name: r for r in plan.pools}
    assert list(rows) == ["critical", "sys"]
    critical = rows["critical"]
    assert (critical.instance_type, critical.min, critical.max) == ("Standard_D4s_v5", 2, 4)
    hourly = catalog.load().cloud("azure").instance("Standard_D4s_v5").prices["eastus"].on_demand
    assert critical.cost_min == pytest.approx(2 * hourly)
    assert plan.cost.hourly_min == pytest.approx((2 + 1) * hourly)
    assert plan.cost.hourly_max == pytest.approx((4 + 2) * hourly)
