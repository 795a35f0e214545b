"""The smoke pipelines compile with the real KFP SDK into pipeline specs it loads back, and the
GPU step asks for one GPU on the right pool and checks the model nvidia-smi reports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

import stacks
from installer.spec import load_spec, parse_spec
from installer.verify import gpu

pipelines = pytest.importorskip("installer.verify.pipelines")
kfp_components = pytest.importorskip("kfp.components")
pipeline_spec_pb2 = pytest.importorskip("kfp.pipeline_spec.pipeline_spec_pb2")
json_format = pytest.importorskip("google.protobuf.json_format")

SPEC = """
name: p
target: aws
aws: {region: us-west-2}
node_pools:
- {name: sys, role: system, min: 1, max: 2}
- {name: a10, gpu: {model: A10G}, min: 0, max: 2, labels: {team: ml}}
- {name: h100, gpu: {model: H100, count: 8}, min: 0, max: 1,
   taints: [{key: dedicated, effect: NoExecute}]}
"""


@pytest.fixture
def targets() -> list[gpu.GpuTarget]:
    return gpu.gpu_targets(parse_spec(SPEC).spec)


def _docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def test_the_hello_pipeline_compiles_to_a_spec_the_sdk_loads_back(tmp_path):
    text = pipelines.compile_pipeline(pipelines.hello_pipeline())
    path = tmp_path / "hello.yaml"
    path.write_text(text)
    component = kfp_components.load_component_from_file(str(path))
    assert component.name == "kfstack-smoke-hello"
    (spec,) = _docs(text)
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    (executor,) = spec["deploymentSpec"]["executors"].values()
    assert "accelerator" not in executor["container"].get("resources", {})
    assert pipelines.api_document(text) == spec


def test_the_gpu_step_requests_one_gpu_on_its_pool_with_a_toleration_per_taint(targets, tmp_path):
    text = pipelines.compile_pipeline(pipelines.gpu_pipeline(targets[1]))
    path = tmp_path / "gpu.yaml"
    path.write_text(text)
    assert kfp_components.load_component_from_file(str(path)).name == "kfstack-smoke-gpu-h100"
    spec, platform = _docs(text)
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec())
    (executor,) = spec["deploymentSpec"]["executors"].values()
    accel = executor["container"]["resources"]["accelerator"]
    assert (accel["resourceType"], accel["resourceCount"]) == ("nvidia.com/gpu", "1")
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-check-gpu"]
    assert k8s["nodeSelector"]["labels"] == targets[1].node_selector
    assert k8s["nodeSelector"]["labels"]["kfstack.io/pool"] == "h100"
    assert k8s["tolerations"] == [
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}
    ]
    expected = spec["root"]["inputDefinitions"]["parameters"]["expected"]["defaultValue"]
    assert expected == gpu.name_pattern("H100")
    assert pipelines.api_document(text) == {"pipeline_spec": spec, "platform_spec": platform}


def test_pods_select_a_pool_by_the_labels_and_taints_its_stack_gives_its_nodes(targets):
    # Before apply the stack's pending outputs are the source; spec labels are included.
    (stack_pool, _) = stacks.for_spec(parse_spec(SPEC).spec).pending_outputs().gpu_pools
    assert targets[0].node_selector == stack_pool.labels
    assert targets[0].node_selector["team"] == "ml"
    assert targets[0].node_selector["kfstack.io/pool"] == "a10"
    assert targets[0].tolerations == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
    ]


def test_an_aks_spot_gpu_pool_is_tolerated_for_azures_own_spot_taint_too(examples):
    spec = load_spec(examples / "azure.yaml").spec
    spot = next(t for t in gpu.gpu_targets(spec) if t.pool == "gput4")
    keys = {t["key"] for t in spot.tolerations}
    assert keys == {"nvidia.com/gpu", "kubernetes.azure.com/scalesetpriority"}
    assert spot.node_selector["kfstack.io/pool"] == "gput4"


def test_infrastructure_outputs_override_what_the_stack_computed_before_apply():
    from stacks.base import GpuPoolOutput, InfraOutputs

    infra = InfraOutputs(
        target="aws",
        gpu_pools=[
            GpuPoolOutput(
                name="a10",
                gpu_model="A10G",
                gpu_count=1,
                labels={"eks.amazonaws.com/nodegroup": "p-dev-a10"},
                taints=[{"key": "nvidia.com/gpu", "value": "", "effect": "NoSchedule"}],
            )
        ],
    )
    (a10,) = gpu.gpu_targets(parse_spec(SPEC).spec, infra)
    assert a10.node_selector == {"eks.amazonaws.com/nodegroup": "p-dev-a10"}
    assert a10.tolerations == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


@pytest.mark.parametrize(
    ("model", "smi_name", "expected"),
    [
        ("T4", "Tesla T4", True),
        ("A10G", "NVIDIA A10G", True),
        ("A10", "NVIDIA A10G", False),
        ("A10", "NVIDIA A10", True),
        ("L4", "NVIDIA L4", True),
        ("L4", "NVIDIA L40S", False),
        ("A100-40GB", "NVIDIA A100-SXM4-40GB", True),
        ("A100-80GB", "NVIDIA A100-SXM4-40GB", False),
        ("A100-80GB", "NVIDIA A100 80GB PCIe", True),
        ("H100", "NVIDIA H100 80GB HBM3", True),
        ("H100", "NVIDIA H100 NVL", False),
        ("H100-NVL", "NVIDIA H100 NVL", True),
        ("H200", "NVIDIA H200", True),
    ],
)
def test_nvidia_smi_names_match_only_their_catalog_model(model, smi_name, expected):
    assert gpu.matches(model, smi_name) is expected


@pytest.mark.skipif(shutil.which("grep") is None, reason="needs grep")
@pytest.mark.parametrize(
    ("model", "smi_name"),
    [("L4", "NVIDIA L40S"), ("L4", "NVIDIA L4"), ("H100", "NVIDIA H100 NVL")],
)
def test_grep_in_the_step_agrees_with_python_on_the_same_pattern(model, smi_name):
    # The pattern runs as POSIX ERE inside the pipeline step; GNU grep is what the CUDA
    # (Ubuntu) image has.
    pattern = gpu.name_pattern(model)
    found = subprocess.run(["grep", "-Eiq", pattern], input=smi_name, text=True).returncode == 0
    assert found is gpu.matches(model, smi_name)
    assert re.search(pattern, smi_name, re.I) is not None or not found


def test_the_check_script_reports_every_gpu_it_saw():
    log = "kfstack-gpu-model: NVIDIA A10G\nkfstack-gpu-model: NVIDIA A10G\nkfstack-gpu-check: ok\n"
    assert gpu.reported_models(log) == ["NVIDIA A10G", "NVIDIA A10G"]


def test_the_check_script_fails_with_a_reason_when_the_gpu_device_is_missing(tmp_path):
    # This machine has no GPU: the script must fail on the device node, not pass silently.
    if os.path.exists("/dev/nvidia0"):
        pytest.skip("a GPU is present here")
    result = subprocess.run(
        ["sh", "-c", gpu.CHECK_SCRIPT, gpu.name_pattern("T4")], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "no /dev/nvidia0" in result.stdout
