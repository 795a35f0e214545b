"""The verify checks: GPU nodes and Jobs, smoke pipelines, and a notebook server.

Each check function takes the Kubernetes API (`installer.verify.kube.KubeApi`), what it
checks, and a `CheckResult` to fill; it never raises for a failing platform (that is a
`failed` result with the reason and evidence) and reports `not-run` with the reason when
the cluster cannot run it. Only bugs and interrupts propagate.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from installer.console import Reporter
from installer.errors import KfstackError
from installer.verify import gpu as _gpu
from installer.verify import kfp_api
from installer.verify.kube import KubeApi, Obj, wait_for
from installer.verify.report import CheckResult

LOG = logging.getLogger("kfstack.verify")

GPU_RESOURCE = "nvidia.com/gpu"
NOTEBOOK_IMAGE = "ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-scipy:v1.10.0"
NOT_RUNNING = "the cluster does not run workloads (simulated cluster): nothing can execute"


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _dns(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40]


def _ticker(reporter: Reporter | None, label: str, timeout: float) -> Callable[[float], None]:
    def tick(elapsed: float) -> None:
        if reporter is not None:
            reporter.progress(label, int(elapsed), int(timeout), "s waited")

    return tick


def _int(quantity: str) -> int:
    try:
        return int(quantity)
    except ValueError:  # not a plain count: treat as none rather than guess
        return 0


def _condition(obj: Obj | None, kind: str) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


# ---------------------------------------------------------------------------- GPU


def gpu_nodes(kube: KubeApi, target: _gpu.GpuTarget, check: CheckResult) -> CheckResult:
    """Every node of the pool advertises the pool's GPU count as allocatable."""
    try:
        nodes = kube.list("v1", "Node", label_selector=_selector(target.node_selector))
    except KfstackError as exc:
        return check.failed(f"could not list nodes: {exc.message}")
    seen = {
        n["metadata"]["name"]: str(
            ((n.get("status") or {}).get("allocatable") or {}).get(GPU_RESOURCE, "0")
        )
        for n in nodes
    }
    check.evidence.update(selector=target.node_selector, allocatable=seen, expected=target.count)
    if not seen and not kube.runs_workloads:
        return check.not_run("the simulated cluster has no nodes")
    if not seen:
        # A pool that scales from zero has no nodes until a GPU pod asks for one; the
        # Job check that follows brings one up, and this check runs again after it.
        return check.not_run(
            f"no nodes with {_selector(target.node_selector)} yet (scaled to zero)"
        )
    # "At least": a bare-metal GPU pool promises the smallest count among its hosts.
    short = {name: count for name, count in seen.items() if _int(count) < target.count}
    if short:
        return check.failed(
            f"nodes advertise too few {GPU_RESOURCE} (want {target.count}): "
            + ", ".join(f"{n}={c}" for n, c in sorted(short.items()))
            + "; is the NVIDIA device plugin running on them?"
        )
    return check.passed()


def gpu_job_manifest(target: _gpu.GpuTarget, namespace: str, image: str, deadline: int) -> Obj:
    """A Job pinned to the pool that runs nvidia-smi on one GPU and checks the model."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"kfstack-verify-gpu-{_dns(target.pool)}",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kfstack", "kfstack.io/check": "gpu"},
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline,
            "ttlSecondsAfterFinished": 600,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "nodeSelector": dict(target.node_selector),
                    "tolerations": [dict(t) for t in target.tolerations],
                    "containers": [
                        {
                            "name": "nvidia-smi",
                            "image": image,
                            "command": ["sh", "-c", _gpu.CHECK_SCRIPT],
                            "args": [_gpu.name_pattern(target.model)],
                            "resources": {"limits": {GPU_RESOURCE: 1}},
                        }
                    ],
                }
            },
        },
    }


def gpu_job(
    kube: KubeApi,
    target: _gpu.GpuTarget,
    check: CheckResult,
    *,
    namespace: str,
    image: str,
    timeout: float,
    reporter: Reporter | None = None,
) -> CheckResult:
    """Run the GPU Job on the pool; pass when it completes and saw the spec's GPU model."""
    if not kube.runs_workloads:
        return check.not_run(NOT_RUNNING)
    job = gpu_job_manifest(target, namespace, image, int(timeout))
    name = job["metadata"]["name"]
    check.evidence.update(job=f"{namespace}/{name}", expected_model=target.model, image=image)
    try:
        kube.delete("batch/v1", "Job", name, namespace)  # a leftover from an interrupted run
        wait_for(kube, "batch/v1", "Job", name, namespace, lambda o: o is None, timeout=60)
        kube.create(job)
        try:
            final = wait_for(
                kube,
                "batch/v1",
                "Job",
                name,
                namespace,
                lambda o: _condition(o, "Complete") or _condition(o, "Failed"),
                timeout=timeout,
                progress=_ticker(reporter, f"job {name}", timeout),
            )
        except TimeoutError:
            # The Job is deleted below, so keep what its pods were waiting for.
            pods = _pod_states(kube, name, namespace)
            return check.failed(
                f"the Job did not finish in {timeout:.0f}s (no GPU node came up, or the image "
                "pull is slow)" + (f": {'; '.join(pods)}" if pods else ": no pod was created"),
                pods=pods,
            )
        log = _job_log(kube, name, namespace)
        models = _gpu.reported_models(log)
        check.evidence.update(reported_models=models, log_tail=log.strip().splitlines()[-10:])
        if models and not all(_gpu.matches(target.model, m) for m in models):
            return check.failed(f"nvidia-smi saw {models}, not {target.model}")
        if _condition(final, "Failed") or not models:
            last = (log.strip().splitlines() or ["no log"])[-1]
            return check.failed(f"the GPU Job failed: {last}")
        return check.passed()
    except KfstackError as exc:
        return check.failed(exc.message)
    finally:
        try:
            kube.delete("batch/v1", "Job", name, namespace)
        except KfstackError as exc:
            LOG.warning("could not delete Job %s/%s: %s", namespace, name, exc)


def _pod_states(kube: KubeApi, job: str, namespace: str) -> list[str]:
    states = []
    for pod in kube.list("v1", "Pod", namespace, label_selector=f"job-name={job}"):
        status = pod.get("status") or {}
        why = [
            f"{c.get('reason')}: {c.get('message')}"
            for c in status.get("conditions") or []
            if c.get("status") == "False" and c.get("message")
        ]
        waiting = [
            f"{w['reason']}" + (f" ({w['message']})" if w.get("message") else "")
            for cs in status.get("containerStatuses") or []
            if (w := (cs.get("state") or {}).get("waiting")) and w.get("reason")
        ]
        detail = ", ".join(why + waiting)
        states.append(
            f"{pod['metadata']['name']} {status.get('phase', '?')}"
            + (f" ({detail})" if detail else "")
        )
    return states


def _job_log(kube: KubeApi, job: str, namespace: str) -> str:
    pods = kube.list("v1", "Pod", namespace, label_selector=f"job-name={job}")
    return "\n".join(kube.pod_logs(p["metadata"]["name"], namespace) for p in pods)


# ---------------------------------------------------------------------------- pipelines


def pipeline_run(
    client: kfp_api.KfpClient,
    name: str,
    document: dict[str, Any],
    check: CheckResult,
    *,
    timeout: float,
    poll: float = 5.0,
    logs: Callable[[str, str], str] | None,
    reporter: Reporter | None = None,
) -> CheckResult:
    """Submit one pipeline as the team and wait until it SUCCEEDED."""
    check.evidence.update(namespace=client.namespace, pipeline=name)
    try:
        result = client.run_pipeline(
            name, document, timeout=timeout, poll=poll, logs=logs, reporter=reporter
        )
    except kfp_api.RunTimeout as exc:
        return check.failed(exc.message, run_id=exc.run_id)
    except KfstackError as exc:
        return check.failed(exc.message)
    check.evidence.update(run_id=result.run_id, state=result.state)
    if result.succeeded:
        return check.passed()
    return check.failed(result.explain())


def pipeline_isolation(
    owner: kfp_api.KfpClient, other: kfp_api.KfpClient, check: CheckResult
) -> CheckResult:
    """Another team's token listing this team's runs must get HTTP 403.

    A 403 proves isolation only if both tokens work in their own namespaces: a gateway
    that refuses every service-account token would also answer 403.
    """
    namespace = owner.namespace
    check.evidence.update(token_of=other.namespace, namespace=namespace)
    for client in (owner, other):
        try:
            client.list_runs()
        except KfstackError as exc:
            return check.failed(
                f"team {client.namespace}'s token cannot list its own runs, so a 403 would "
                f"prove nothing: {exc.message}"
            )
    try:
        other.list_runs(namespace)
    except kfp_api.KfpForbidden as exc:
        return check.passed(status=exc.status, own_namespaces="200")
    except KfstackError as exc:
        return check.failed(f"expected HTTP 403, got: {exc.message}")
    return check.failed(f"team {other.namespace}'s token could list the runs of {namespace}")


# ---------------------------------------------------------------------------- notebooks


def notebook_manifest(name: str, namespace: str, image: str) -> Obj:
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "Notebook",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kfstack", "kfstack.io/check": "notebook"},
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": "1", "memory": "1Gi"},
                            },
                        }
                    ]
                }
            }
        },
    }


def notebook(
    kube: KubeApi,
    namespace: str,
    check: CheckResult,
    *,
    image: str,
    timeout: float,
    reporter: Reporter | None = None,
) -> CheckResult:
    """A Notebook server in the team's namespace becomes ready, then is removed."""
    if not kube.runs_workloads:
        return check.not_run(NOT_RUNNING)
    name = "kfstack-verify-notebook"
    api = "kubeflow.org/v1"
    check.evidence.update(notebook=f"{namespace}/{name}", image=image)
    try:
        kube.delete(api, "Notebook", name, namespace)
        wait_for(kube, api, "Notebook", name, namespace, lambda o: o is None, timeout=60)
        kube.create(notebook_manifest(name, namespace, image))
        try:
            ready = wait_for(
                kube,
                api,
                "Notebook",
                name,
                namespace,
                lambda o: int(((o or {}).get("status") or {}).get("readyReplicas") or 0) >= 1,
                timeout=timeout,
                progress=_ticker(reporter, f"notebook {namespace}/{name}", timeout),
            )
        except TimeoutError:
            current = kube.get(api, "Notebook", name, namespace) or {}
            state = (current.get("status") or {}).get("containerState") or {}
            return check.failed(
                f"the notebook was not ready in {timeout:.0f}s", container_state=state
            )
        check.evidence.update(ready_replicas=ready["status"]["readyReplicas"])
        kube.delete(api, "Notebook", name, namespace)
        try:
            wait_for(kube, api, "Notebook", name, namespace, lambda o: o is None, timeout=120)
        except TimeoutError:
            return check.failed("the notebook was ready but was not removed within 120s")
        return check.passed(removed=True)
    except KfstackError as exc:
        return check.failed(exc.message)
    finally:
        try:
            kube.delete(api, "Notebook", name, namespace)
        except KfstackError as exc:
            LOG.warning("could not delete Notebook %s/%s: %s", namespace, name, exc)


def require_sdk() -> Any:
    """The pipelines module (it needs the KFP SDK). Raises UserError when it is missing."""
    from installer.verify import pipelines

    pipelines._sdk()
    return pipelines
