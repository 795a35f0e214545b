"""`kfstack verify`: prove a running platform works, GPUs included.

    run(spec, kube, options, reporter) -> VerifyReport
      1. GPU       per GPU pool (as its stack labels and taints the nodes): the nodes
                   advertise `nvidia.com/gpu` allocatable;
                   a Job pinned to the pool runs nvidia-smi and the model it saw is
                   compared with the spec (then the nodes again, if the pool was at zero)
      2. Pipelines the smoke pipelines (`pipelines.py`) submitted through the KFP API
                   (`kfp_api.py`) with a service-account token of the first team's
                   profile, waited on until SUCCEEDED (the GPU one on the first GPU
                   pool); the second team's token must get HTTP 403 on the first
                   team's runs, while both work in their own namespaces (isolation)
      3. Notebooks a Notebook server in the first team's namespace becomes ready and is
                   removed

The Kubernetes calls go through the `kube.KubeApi` protocol. A check that cannot run says
so (`not-run` with the reason: the component is off, the spec has no team, the cluster is
simulated and runs nothing); a check is `passed` only when what it checks happened.
Check images come through `kubeflow.registry.mirror` when the spec sets one.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from installer.console import Reporter
from installer.errors import KfstackError, UserError
from installer.spec.model import Spec
from installer.verify import checks as _checks
from installer.verify import gpu as _gpu
from installer.verify import kfp_api
from installer.verify.kube import KubeApi
from installer.verify.report import CheckResult, VerifyReport, timed

LOG = logging.getLogger("kfstack.verify")

CHECKS = ("gpu", "pipelines", "notebooks")
PROFILE_SERVICE_ACCOUNT = "default-editor"  # what Kubeflow's profile controller creates


@dataclass
class VerifyOptions:
    checks: tuple[str, ...] = CHECKS
    namespace: str = "kfstack-verify"  # where the GPU Jobs run
    kfp_url: str | None = None  # default: https://<kubeflow.domain>/pipeline
    ca_file: str | None = None
    insecure: bool | None = None  # default: only for the self-signed issuer
    gpu_timeout: float = 900.0  # covers a scale-up from zero and the CUDA image pull
    pipeline_timeout: float = 900.0
    pipeline_poll: float = 5.0
    notebook_timeout: float = 600.0
    gpu_image: str | None = None  # default: GPU_IMAGE (through the registry mirror)
    cpu_image: str | None = None  # default: CPU_IMAGE (through the registry mirror)
    notebook_image: str | None = None  # default: NOTEBOOK_IMAGE (through the mirror)
    infra: Any = None  # InfraOutputs, when the infrastructure layer's outputs are known


def run(
    spec: Spec,
    kube: KubeApi,
    options: VerifyOptions | None = None,
    reporter: Reporter | None = None,
) -> VerifyReport:
    """Run the selected checks (steps in the module doc) and return the report.

    Raises:
        UserError: the pipelines check is selected and the KFP SDK is not installed.
    """
    options = _with_images(spec, options or VerifyOptions())
    reporter = reporter or Reporter()
    report = VerifyReport(
        platform=spec.full_name, target=spec.target, simulated=not kube.runs_workloads
    )
    if not kube.runs_workloads:
        reporter.warn("simulated cluster: checks that need running pods are reported not-run")
    total = len(options.checks)
    for number, name in enumerate(options.checks, start=1):
        reporter.phase(number, total, f"verify {name}")
        step = {"gpu": _verify_gpu, "pipelines": _verify_pipelines, "notebooks": _verify_notebooks}
        try:
            for check in step[name](spec, kube, options, reporter):
                report.checks.append(check)
                _report_line(reporter, check)
        except UserError:
            raise
        except KfstackError as exc:
            # The cluster failed under a step (e.g. its namespace could not be created):
            # that step failed, and the others still run and report.
            LOG.debug("verify %s stopped", name, exc_info=True)
            check = CheckResult(name).failed(exc.message)
            report.checks.append(check)
            _report_line(reporter, check)
    return report


def _with_images(spec: Spec, options: VerifyOptions) -> VerifyOptions:
    """Fill in the check images, through `kubeflow.registry.mirror` when there is one.

    The defaults are fully qualified (registry host first), so the platform's mirror
    layout `<mirror>/<registry>/<path>` is the mirror prefix and the image as written.
    """
    mirror = spec.kubeflow.registry.mirror if spec.kubeflow.registry else None

    def image(given: str | None, default: str) -> str:
        if given:
            return given
        return f"{mirror}/{default}" if mirror else default

    return dataclasses.replace(
        options,
        gpu_image=image(options.gpu_image, _gpu.GPU_IMAGE),
        cpu_image=image(options.cpu_image, _gpu.CPU_IMAGE),
        notebook_image=image(options.notebook_image, _checks.NOTEBOOK_IMAGE),
    )


def _report_line(reporter: Reporter, check: CheckResult) -> None:
    if check.result == "passed":
        reporter.ok(check.line())
    elif check.result == "failed":
        reporter.fail(check.line())
    else:
        reporter.line(f"- {check.line()}")


# ---------------------------------------------------------------------------- 1. GPU


def _verify_gpu(spec: Spec, kube: KubeApi, options: VerifyOptions, reporter: Reporter):
    targets = _gpu.gpu_targets(spec, options.infra)
    if not targets:
        yield CheckResult("gpu").not_run("the spec has no GPU pools or GPU hosts")
        return
    created_namespace = False
    try:
        if kube.runs_workloads:
            created_namespace = _ensure_namespace(kube, options.namespace)
        for target in targets:
            with timed(CheckResult(f"gpu-nodes:{target.pool}")) as nodes:
                _checks.gpu_nodes(kube, target, nodes)
            was_empty = nodes.result == "not-run"
            if not was_empty:
                yield nodes
            with timed(CheckResult(f"gpu-job:{target.pool}")) as job:
                if kube.runs_workloads:
                    reporter.line(f"  running nvidia-smi on pool {target.pool} ({target.model})")
                _checks.gpu_job(
                    kube,
                    target,
                    job,
                    namespace=options.namespace,
                    image=options.gpu_image,
                    timeout=options.gpu_timeout,
                    reporter=reporter,
                )
            if was_empty:
                # The Job asked the autoscaler for a node; it must now advertise its GPUs.
                with timed(CheckResult(f"gpu-nodes:{target.pool}")) as nodes:
                    _checks.gpu_nodes(kube, target, nodes)
                yield nodes
            yield job
    finally:
        if created_namespace:
            try:
                kube.delete("v1", "Namespace", options.namespace)
            except KfstackError as exc:
                LOG.warning("could not delete namespace %s: %s", options.namespace, exc)


def _ensure_namespace(kube: KubeApi, name: str) -> bool:
    if kube.get("v1", "Namespace", name) is not None:
        return False
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kfstack"}},
        }
    )
    return True


# ---------------------------------------------------------------------------- 2. pipelines


PIPELINE_CHECKS = ("pipeline-hello", "pipeline-gpu", "pipeline-isolation")


def _verify_pipelines(spec: Spec, kube: KubeApi, options: VerifyOptions, reporter: Reporter):
    reason = _pipelines_blocked(spec, kube, options)
    if reason is not None:
        for name in PIPELINE_CHECKS:
            yield CheckResult(name).not_run(reason)
        return
    pipelines = _checks.require_sdk()
    teams = [t.name for t in spec.kubeflow.teams]
    url = options.kfp_url or f"https://{spec.kubeflow.domain}/pipeline"
    insecure = options.insecure
    if insecure is None:
        # The self-signed issuer's CA lives only in the cluster; without --ca-file the
        # check trusts the gateway's certificate as the dashboard's users must.
        insecure = spec.kubeflow.tls.issuer == "self-signed" and options.ca_file is None

    def client(team: str) -> kfp_api.KfpClient:
        token = kube.create_token(team, PROFILE_SERVICE_ACCOUNT)
        return kfp_api.KfpClient(url, token, team, ca_file=options.ca_file, insecure=insecure)

    def logs(namespace: str, pod: str) -> str:
        return kube.pod_logs(pod, namespace, container="main")

    try:
        first = client(teams[0])
    except KfstackError as exc:
        for name in PIPELINE_CHECKS:
            yield CheckResult(name).failed(
                f"no token for {teams[0]}/{PROFILE_SERVICE_ACCOUNT}: {exc.message}"
            )
        return

    def submit(check: CheckResult, name: str, pipeline: Any) -> None:
        document = pipelines.api_document(pipelines.compile_pipeline(pipeline))
        _checks.pipeline_run(
            first,
            name,
            document,
            check,
            timeout=options.pipeline_timeout,
            poll=options.pipeline_poll,
            logs=logs,
            reporter=reporter,
        )

    with timed(CheckResult("pipeline-hello")) as check:
        submit(check, "kfstack-smoke-hello", pipelines.hello_pipeline(options.cpu_image))
    yield check

    targets = _gpu.gpu_targets(spec, options.infra)
    with timed(CheckResult("pipeline-gpu")) as check:
        if not targets:
            check.not_run("the spec has no GPU pools or GPU hosts")
        else:
            target = targets[0]
            check.evidence["pool"] = target.pool
            pipeline = pipelines.gpu_pipeline(target, options.gpu_image)
            submit(check, f"kfstack-smoke-gpu-{target.pool}", pipeline)
    yield check

    with timed(CheckResult("pipeline-isolation")) as check:
        if len(teams) < 2:
            check.not_run("the isolation check needs two teams in kubeflow.teams")
        else:
            try:
                _checks.pipeline_isolation(first, client(teams[1]), check)
            except KfstackError as exc:
                check.failed(f"no token for {teams[1]}/{PROFILE_SERVICE_ACCOUNT}: {exc.message}")
    yield check


def _pipelines_blocked(spec: Spec, kube: KubeApi, options: VerifyOptions) -> str | None:
    if not spec.kubeflow.components.pipelines:
        return "the pipelines component is off (kubeflow.components.pipelines)"
    if not kube.runs_workloads:
        return "pipelines do not execute on the simulated cluster"
    if not spec.kubeflow.teams:
        return "no team namespace to run in: add a team to kubeflow.teams"
    if options.kfp_url is None and not spec.kubeflow.domain:
        return "no address for the KFP API: set kubeflow.domain or pass --kfp-url"
    return None


# ---------------------------------------------------------------------------- 3. notebooks


def _verify_notebooks(spec: Spec, kube: KubeApi, options: VerifyOptions, reporter: Reporter):
    check = CheckResult("notebook")
    if not spec.kubeflow.components.notebooks:
        yield check.not_run("the notebooks component is off (kubeflow.components.notebooks)")
        return
    if not spec.kubeflow.teams:
        yield check.not_run("no team namespace: add a team to kubeflow.teams")
        return
    with timed(check):
        _checks.notebook(
            kube,
            spec.kubeflow.teams[0].name,
            check,
            image=options.notebook_image,
            timeout=options.notebook_timeout,
            reporter=reporter,
        )
    yield check
