"""Every GKE and AKS configuration kfstack can generate fits the providers' real schemas.

`tf_schema.check_root` walks the written Terraform root and its HCL modules against the
offline provider schemas (see tests/tf_schema.py for what it checks). The matrix covers
every GPU model each catalog offers, spot on and off, zones given or not, a new or an
existing network, RWX on and off, snapshots on and off (and, for GKE, a pinned version).
The walker's own tests show it fails on each kind of mistake it claims to catch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import tf_schema
from cloud_specs import MATRIX, azure_spec, gcp_spec, regions_for, row_id
from conftest import REPO, find_shared

import stacks


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    """Load a provider's schema once per module (or skip with the reason it is missing)."""
    cache: dict[str, tf_schema.ProviderSchema] = {}

    def load(name: str) -> tf_schema.ProviderSchema:
        if name not in cache:
            path, reason = tf_schema.locate_schema(
                find_shared(), name, tmp_path_factory.mktemp(f"schema-{name}")
            )
            if path is None:
                pytest.skip(reason)
            cache[name] = tf_schema.ProviderSchema.load(path)
        return cache[name]

    return load


def _walk(spec, schemas, tmp_path: Path) -> tf_schema.Report:
    stacks.for_spec(spec).write(tmp_path / "root")
    return tf_schema.check_root(tmp_path / "root", schemas)


# ---------------------------------------------------------------------------- matrix


# Per cloud: the provider whose schema applies, the spec builder, the extra knobs a
# matrix row turns on, the cluster's resource types and the new network's.
CLOUDS = {
    "gke": (
        "gcp",
        "google",
        gcp_spec,
        # A pinned version rides along with spot so both channel modes are covered.
        lambda spot: {"channel": "UNSPECIFIED" if spot else "REGULAR"},
        {"google_container_cluster", "google_container_node_pool"},
        {"google_compute_network", "google_compute_subnetwork", "google_compute_router_nat"},
    ),
    "aks": (
        "azure",
        "azurerm",
        azure_spec,
        lambda spot: {},
        {
            "azurerm_resource_group",
            "azurerm_kubernetes_cluster",
            "azurerm_kubernetes_cluster_node_pool",
        },
        {"azurerm_virtual_network", "azurerm_subnet"},
    ),
}


@pytest.mark.parametrize(
    ("spot", "zones", "existing", "rwx", "snapshots"), MATRIX, ids=[row_id(r) for r in MATRIX]
)
@pytest.mark.parametrize("cluster", sorted(CLOUDS))
def test_every_configuration_of_the_matrix_fits_the_provider_schema(
    cluster, spot, zones, existing, rwx, snapshots, schema, tmp_path
):
    cloud, provider, build, extra, always, new_network = CLOUDS[cluster]
    for index, (region, models) in enumerate(regions_for(cloud)):
        spec = build(
            region,
            models,
            spot=spot,
            zones=zones,
            existing_network=existing,
            rwx=rwx,
            snapshots=snapshots,
            **extra(spot),
        )
        report = _walk(spec, [schema(provider)], tmp_path / str(index))
        assert report.problems == []
        checked = {entry.split(": ")[1] for entry in report.checked}
        # The network resources are checked even with an existing network: HCL is walked
        # as written, whatever `count` later makes of it.
        assert always | new_network <= checked


def test_the_examples_fit_their_provider_schemas(examples, schema, tmp_path):
    from installer.spec import load_spec

    for example, provider in (("gcp", "google"), ("azure", "azurerm")):
        spec = load_spec(examples / f"{example}.yaml").spec
        assert _walk(spec, [schema(provider)], tmp_path / example).problems == []


def test_the_eks_stack_fits_the_aws_schema_as_a_cross_check(examples, schema, tmp_path):
    pytest.importorskip("stacks.aws", reason="stacks/aws.py (the EKS stack) is not merged yet")
    from installer.spec import load_spec

    spec = load_spec(examples / "aws.yaml").spec
    report = _walk(spec, [schema("aws")], tmp_path)
    assert report.problems == []
    assert any("aws_eks_cluster" in entry for entry in report.checked)


# ---------------------------------------------------------------------------- HCL style


def test_all_hcl_modules_are_terraform_fmt_clean():
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", "modules/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "module", ["gcp-network", "gcp-gke", "azure-network", "azure-aks", "baremetal-k3s"]
)
def test_every_module_variable_is_typed_and_described_and_every_output_described(module):
    directory = REPO / "modules" / module
    assert {p.name for p in directory.iterdir()} >= {
        "main.tf",
        "variables.tf",
        "outputs.tf",
        "versions.tf",
        "README.md",
    }
    variables = tf_schema.load_hcl(directory / "variables.tf")["variable"]
    for entry in variables:
        for name, body in entry.items():
            assert body.get("type"), f"{module}: variable {name} has no type"
            assert body.get("description"), f"{module}: variable {name} has no description"
            assert name.strip('"') in (directory / "README.md").read_text()
    for entry in tf_schema.load_hcl(directory / "outputs.tf")["output"]:
        for name, body in entry.items():
            assert body.get("description"), f"{module}: output {name} has no description"


# ---------------------------------------------------------------------------- walker


SCHEMA = {
    "format_version": "1.0",
    "provider_schemas": {
        "registry.terraform.io/hashicorp/demo": {
            "provider": {
                "block": {"attributes": {"region": {"type": "string", "optional": True}}}
            },
            "resource_schemas": {
                "demo_pool": {
                    "block": {
                        "attributes": {
                            "name": {"type": "string", "required": True},
                            "labels": {"type": ["map", "string"], "optional": True},
                            "id": {"type": "string", "computed": True},
                        },
                        "block_types": {
                            "autoscaling": {
                                "nesting_mode": "single",
                                "block": {
                                    "attributes": {"max": {"type": "number", "required": True}}
                                },
                            },
                            "taint": {
                                "nesting_mode": "list",
                                "block": {
                                    "attributes": {"key": {"type": "string", "required": True}}
                                },
                            },
                            "placement": {
                                "nesting_mode": "single",
                                "required": True,
                                "block": {"attributes": {}},
                            },
                        },
                    }
                }
            },
            "data_source_schemas": {},
        }
    },
}

GOOD_RESOURCE = """
resource "demo_pool" "p" {
  for_each = toset(["a"])
  name     = each.key
  labels   = { team = "ml" }

  autoscaling {
    max = 3
  }

  dynamic "taint" {
    for_each = ["x", "y"]
    content {
      key = taint.value
    }
  }

  placement {}
}
"""


@pytest.fixture
def demo(tmp_path):
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(SCHEMA))
    return tf_schema.ProviderSchema.load(path)


def _check_hcl(tmp_path: Path, demo, resource: str) -> list[str]:
    root = tmp_path / "root"
    (root / "modules" / "m").mkdir(parents=True)
    (root / "modules" / "m" / "main.tf").write_text(resource)
    (root / "main.tf.json").write_text(
        json.dumps(
            {"provider": {"demo": {"region": "r"}}, "module": {"m": {"source": "./modules/m"}}}
        )
    )
    return tf_schema.check_root(root, [demo]).problems


def test_the_walker_accepts_a_resource_that_fits_its_schema(tmp_path, demo):
    assert _check_hcl(tmp_path, demo, GOOD_RESOURCE) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("name     = each.key", "nmae     = each.key"), "unknown argument or block 'nmae'"),
        (("name     = each.key", ""), "required argument 'name' is missing"),
        (("  placement {}\n", ""), "required block 'placement' is missing"),
        (("  autoscaling {\n    max = 3\n  }", "  autoscaling {\n  }"), "'max' is missing"),
        (("autoscaling {\n", "autoscaling = {\n"), "'autoscaling' is a nested block"),
        (('labels   = { team = "ml" }', 'labels {\n    team = "ml"\n  }'), "is an argument"),
        (("  placement {}\n", "  placement {}\n  autoscaling {\n    max = 1\n  }\n"), "once"),
        (('dynamic "taint"', 'dynamic "tint"'), "dynamic block 'tint'"),
        (("content {\n      key", "content {\n      kee"), "unknown argument or block 'kee'"),
        (("id" * 0 + "labels   =", 'id = "x"\n  labels   ='), "unknown argument or block 'id'"),
        (('resource "demo_pool"', 'resource "demo_poool"'), "unknown resource type demo_poool"),
        (('resource "demo_pool"', 'resource "other_pool"'), "no provider schema loaded"),
    ],
    ids=[
        "misspelt-argument",
        "missing-required-argument",
        "missing-required-block",
        "missing-required-nested-argument",
        "block-written-as-attribute",
        "attribute-written-as-block",
        "single-block-repeated",
        "unknown-dynamic-block",
        "unknown-argument-in-dynamic-content",
        "computed-only-attribute-set",
        "unknown-resource-type",
        "unknown-provider",
    ],
)
def test_the_walker_reports_each_kind_of_mistake(tmp_path, demo, change, problem):
    old, new = change
    assert old in GOOD_RESOURCE
    problems = _check_hcl(tmp_path, demo, GOOD_RESOURCE.replace(old, new, 1))
    assert any(problem in p for p in problems), problems


def test_the_walker_checks_json_resources_and_provider_blocks(tmp_path, demo):
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf.json").write_text(
        json.dumps(
            {
                "provider": {"demo": {"regoin": "r"}},
                "resource": {
                    "demo_pool": {
                        "p": {
                            "name": "a",
                            "placement": {},
                            "autoscaling": [{"max": 1}, {"max": 2}],
                        }
                    }
                },
            }
        )
    )
    problems = tf_schema.check_root(root, [demo]).problems
    assert any("provider.demo: unknown argument or block 'regoin'" in p for p in problems)
    assert any("block 'autoscaling' may appear once, found 2" in p for p in problems)


def test_the_walker_checks_module_calls_against_variables_and_their_types(tmp_path, demo):
    root = tmp_path / "root"
    module = root / "modules" / "m"
    module.mkdir(parents=True)
    (module / "variables.tf").write_text(
        """
variable "pools" {
  description = "pools"
  type = map(object({
    size = string
    min  = optional(number, 0)
    gpu  = optional(object({ type = string, count = number }))
  }))
}

variable "name" {
  description = "name"
  type        = string
  default     = "x"
}
"""
    )
    (root / "main.tf.json").write_text(
        json.dumps(
            {
                "module": {
                    "m": {
                        "source": "./modules/m",
                        "nmae": "y",
                        "pools": {
                            "a": {"size": "s", "min": "zero", "gpu": {"type": "t", "cuont": 1}},
                            "b": {"min": 1},
                        },
                    },
                    "n": {"source": "./modules/m"},
                }
            }
        )
    )
    problems = tf_schema.check_root(root, [demo]).problems
    assert any("has no variable 'nmae'" in p for p in problems)
    assert any("pools.a.min: expected a number" in p for p in problems)
    assert any(
        "pools.a.gpu: attribute 'cuont' is not in the variable's type" in p for p in problems
    )
    assert any("pools.a.gpu: required attribute 'count' is missing" in p for p in problems)
    assert any("pools.b: required attribute 'size' is missing" in p for p in problems)
    assert any("module.n: required variable 'pools'" in p for p in problems)
