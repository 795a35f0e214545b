"""The inputs kfstack passes to each HCL module satisfy the module's variables, judged by
the real Terraform.

A module's `variables.tf` needs no provider, so it is copied into an otherwise empty
root that echoes every variable as an output; `terraform apply` of that root (local
state in a temp dir) runs Terraform's own type conversion (objects, `optional()`
defaults) and every `validation` block on exactly the values the stack generated.
References to other modules (`${module.network.subnet_id}`) become sample strings,
as they would be after apply.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cloud_specs import azure_spec, gcp_spec

import stacks
from installer.spec import load_spec
from stacks.base import modules_root

pytestmark = pytest.mark.integration

REFERENCE = re.compile(r"^\$\{module\.\w+\.(\w+)\}$")


@pytest.fixture(scope="module")
def terraform():
    path = shutil.which("terraform")
    if path is None:
        pytest.skip("terraform is not on PATH")
    return path


def _apply_variables(terraform: str, module: str, inputs: dict, work: Path):
    """Apply a root holding only `module`'s variables; returns (result, outputs)."""
    work.mkdir(parents=True)
    shutil.copy(modules_root() / module / "variables.tf", work / "variables.tf")
    values = {k: _sample(v) for k, v in inputs.items() if k != "source"}
    (work / "terraform.tfvars.json").write_text(json.dumps(values))
    (work / "echo.tf.json").write_text(
        json.dumps({"output": {k: {"value": f"${{var.{k}}}"} for k in values}})
    )
    run = {"cwd": work, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run([terraform, "init", "-input=false", "-no-color"], check=True, **run)
    result = subprocess.run(
        [terraform, "apply", "-auto-approve", "-input=false", "-no-color"], **run
    )
    if result.returncode != 0:
        return result, None
    shown = subprocess.run([terraform, "output", "-json"], check=True, **run)
    return result, {k: v["value"] for k, v in json.loads(shown.stdout).items()}


def _sample(value):
    if isinstance(value, str) and REFERENCE.match(value):
        return f"sample-{REFERENCE.match(value).group(1)}"
    if isinstance(value, dict):
        return {k: _sample(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sample(v) for v in value]
    return value


def _specs():
    return {
        "gcp-example": lambda examples: load_spec(examples / "gcp.yaml").spec,
        "azure-example": lambda examples: load_spec(examples / "azure.yaml").spec,
        "gcp-existing-pinned-spot": lambda _: gcp_spec(
            "us-central1", ["H100", "T4"], existing_network=True, channel="UNSPECIFIED", spot=True
        ),
        "azure-existing-spot-nozones": lambda _: azure_spec(
            "eastus2", ["H200", "A10"], existing_network=True, spot=True, zones=False
        ),
    }


@pytest.mark.parametrize("case", sorted(_specs()))
def test_generated_module_inputs_pass_terraforms_types_and_validations(
    case, terraform, examples, tmp_path
):
    spec = _specs()[case](examples)
    stack = stacks.for_spec(spec)
    calls = stack.documents()["main.tf.json"]["module"]
    for name, call in calls.items():
        module = call["source"].removeprefix("./modules/")
        result, outputs = _apply_variables(terraform, module, call, tmp_path / name)
        assert outputs is not None, f"{module}: {result.stderr}"
        for key in call:
            if key != "source" and not isinstance(call[key], dict):
                assert outputs[key] == _sample(call[key]), key
    pools = outputs["node_pools"]
    assert set(pools) == {p.name for p in spec.node_pools}


def test_a_gke_taint_in_kubernetes_spelling_is_refused_by_the_module(terraform, tmp_path):
    call = stacks.for_spec(gcp_spec("us-central1", ["L4"])).documents()["main.tf.json"]
    inputs = call["module"]["gke"]
    inputs["node_pools"]["gpu-l4"]["taints"][0]["effect"] = "NoSchedule"

    result, outputs = _apply_variables(terraform, "gcp-gke", inputs, tmp_path / "gke")

    assert outputs is None
    assert "taint effects must be NO_SCHEDULE, PREFER_NO_SCHEDULE or NO_EXECUTE" in result.stderr


def test_an_aks_pool_name_azure_rejects_is_refused_by_the_module(terraform, tmp_path):
    call = stacks.for_spec(azure_spec("eastus", [])).documents()["main.tf.json"]
    inputs = call["module"]["aks"]
    inputs["node_pools"]["gpu-pool-1"] = inputs["node_pools"].pop("system")

    result, outputs = _apply_variables(terraform, "azure-aks", inputs, tmp_path / "aks")

    assert outputs is None
    assert "node pool names must be 1-12 lower-case letters and digits" in result.stderr
