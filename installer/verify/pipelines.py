"""The smoke pipelines `kfstack verify` submits, written with the KFP v2 SDK.

Two pipelines, both built by factories so the image (a registry mirror on air-gapped
platforms) and the GPU pool are parameters of the platform, not of the run:

- `hello_pipeline()`: one CPU step that echoes a greeting; proves the pipeline backend,
  the Argo workflow controller, the launcher and the artifact store work for a team.
- `gpu_pipeline(target)`: one step that requests one GPU through the accelerator API
  (`set_accelerator_type("nvidia.com/gpu")` + `set_accelerator_limit(1)`), is pinned to
  the GPU pool with kfp-kubernetes (node selector + a toleration per taint), and runs
  `installer.verify.gpu.CHECK_SCRIPT`: it fails unless /dev/nvidia0 exists and
  nvidia-smi reports the GPU model the spec promises.

Steps are container components, not lightweight Python components: those pip-install
the kfp package into the step at run time, which needs internet access a private
platform may not have.

`compile_pipeline()` returns the pipeline spec (IR YAML) as text and as the document
the KFP API's `pipeline_spec` field takes (`pipeline_spec` + `platform_spec` when the
Kubernetes platform config is present, as the KFP client itself sends it).

The `kfp` and `kfp-kubernetes` packages are the optional extra `verify`; importing this
module without them raises UserError with the install command.
"""

# No `from __future__ import annotations` here: the KFP SDK reads the component
# functions' annotations as types at decoration time, and strings break it.

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from installer.errors import UserError
from installer.verify.gpu import CHECK_SCRIPT, CPU_IMAGE, GPU_IMAGE, GpuTarget, name_pattern

GPU_RESOURCE = "nvidia.com/gpu"


def _sdk() -> tuple[Any, Any, Any]:
    try:
        from kfp import compiler, dsl, kubernetes
    except ImportError as exc:
        raise UserError(
            f"the smoke pipelines need the KFP SDK ({exc.name} is not installed)",
            hint="pip install 'kfstack[verify]'",
        ) from None
    return dsl, compiler, kubernetes


def hello_pipeline(image: str = CPU_IMAGE) -> Callable:
    """The CPU hello-world pipeline (`greeting` is its one parameter)."""
    dsl, _, _ = _sdk()

    @dsl.container_component
    def say_hello(greeting: str) -> dsl.ContainerSpec:
        return dsl.ContainerSpec(
            image=image,
            command=["sh", "-c", 'echo "$0"; echo "kfstack-hello: ok"'],
            args=[greeting],
        )

    @dsl.pipeline(name="kfstack-smoke-hello", description="kfstack verify: a CPU step runs")
    def hello(greeting: str = "hello from kfstack verify") -> None:
        task = say_hello(greeting=greeting)
        task.set_cpu_limit("500m").set_memory_limit("128M")
        task.set_caching_options(False)

    return hello


def gpu_pipeline(target: GpuTarget, image: str = GPU_IMAGE) -> Callable:
    """The GPU pipeline for one GPU pool: one GPU requested, pinned to the pool, checked."""
    dsl, _, kubernetes = _sdk()
    pattern = name_pattern(target.model)

    @dsl.container_component
    def check_gpu(expected: str) -> dsl.ContainerSpec:
        return dsl.ContainerSpec(image=image, command=["sh", "-c", CHECK_SCRIPT], args=[expected])

    @dsl.pipeline(
        name=f"kfstack-smoke-gpu-{target.pool}",
        description=f"kfstack verify: one {target.model} GPU is usable in pool {target.pool}",
    )
    def gpu(expected: str = pattern) -> None:
        task = check_gpu(expected=expected)
        task.set_accelerator_type(GPU_RESOURCE).set_accelerator_limit(1)
        task.set_caching_options(False)
        for key, value in sorted(target.node_selector.items()):
            kubernetes.add_node_selector(task, label_key=key, label_value=value)
        for tol in target.tolerations:
            kubernetes.add_toleration(
                task,
                key=tol["key"],
                operator=tol["operator"],
                value=tol.get("value"),
                effect=tol.get("effect"),
            )

    return gpu


def compile_pipeline(pipeline: Callable) -> str:
    """The pipeline's IR YAML (pipeline spec, then the platform spec when there is one)."""
    _, compiler, _ = _sdk()
    with tempfile.TemporaryDirectory(prefix="kfstack-kfp-") as tmp:
        path = Path(tmp) / "pipeline.yaml"
        compiler.Compiler().compile(pipeline_func=pipeline, package_path=str(path))
        return path.read_text(encoding="utf-8")


def api_document(ir_yaml: str) -> dict[str, Any]:
    """What the v2beta1 `pipeline_spec` field of a run takes for this IR YAML.

    Raises:
        ValueError: the text holds no pipeline spec.
    """
    docs = [d for d in yaml.safe_load_all(ir_yaml) if d]
    if not docs or "root" not in docs[0]:
        raise ValueError("not a compiled KFP pipeline spec (no `root` in the first document)")
    platform: dict[str, Any] = {}
    for doc in docs[1:]:
        platform.update(doc)
    if not platform:
        return docs[0]
    return {"pipeline_spec": docs[0], "platform_spec": platform}
