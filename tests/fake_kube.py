"""An in-memory Kubernetes double for the verify checks, with just enough controllers.

A stand-in until the simulated API server (`installer/simcluster/`, issue 6) is on main:
it satisfies `installer.verify.kube.KubeApi` and plays the controllers the checks rely
on. A Job is "run" by executing its container's real command with the real `sh` and
`grep`, with a fake `nvidia-smi` that prints the GPU name of the node the Job landed on,
and with the script's /dev/nvidia0 pointed at a file that exists only for GPU nodes. A
Job whose selector matches no node brings one up from `autoscale` (a pool at zero) or
never finishes. A Notebook becomes ready at once when `notebooks_start`.
"""

from __future__ import annotations

import copy
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from installer import redact
from installer.errors import KfstackError

Obj = dict[str, Any]


def gpu_node(name: str, labels: dict[str, str], gpu_name: str | None, count: int) -> Obj:
    alloc = {"cpu": "4", "memory": "16Gi"} | ({"nvidia.com/gpu": str(count)} if gpu_name else {})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": dict(labels)},
        "status": {"allocatable": alloc},
        "_gpu_name": gpu_name,
    }


class FakeKube:
    def __init__(
        self,
        tmp: Path,
        *,
        runs_workloads: bool = True,
        nodes: list[Obj] | None = None,
        autoscale: list[Obj] | None = None,
        notebooks_start: bool = True,
        service_accounts: tuple[str, ...] = (),
    ) -> None:
        self.tmp = tmp
        self.runs_workloads = runs_workloads
        self.objects: dict[tuple[str, str, str | None, str], Obj] = {}
        self.logs: dict[tuple[str, str], str] = {}
        self.autoscale = list(autoscale or [])
        self.notebooks_start = notebooks_start
        self.service_accounts = set(service_accounts)  # "namespace/name"
        self.created: list[tuple[str, str]] = []
        self.deleted: list[tuple[str, str]] = []
        for node in nodes or []:
            self._put(node)

    # -------------------------------------------------------------- storage

    @staticmethod
    def _key(api: str, kind: str, namespace: str | None, name: str) -> tuple:
        return (api, kind, namespace, name)

    def _put(self, obj: Obj) -> Obj:
        meta = obj["metadata"]
        self.objects[
            self._key(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        ] = obj
        return obj

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        found = self.objects.get(self._key(api_version, kind, namespace, name))
        return copy.deepcopy(found) if found else None

    def list(self, api_version, kind, namespace=None, *, label_selector=None) -> list[Obj]:
        wanted = dict(p.split("=", 1) for p in label_selector.split(",")) if label_selector else {}
        return [
            copy.deepcopy(o)
            for (api, k, ns, _), o in self.objects.items()
            if api == api_version
            and k == kind
            and (namespace is None or ns == namespace)
            and all(o["metadata"].get("labels", {}).get(a) == b for a, b in wanted.items())
        ]

    def create(self, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        if self.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")):
            raise KfstackError(f"{obj['kind']} {meta['name']} already exists (409)")
        self.created.append((obj["kind"], meta["name"]))
        self._put(obj)
        if self.runs_workloads and obj["kind"] == "Job":
            self._run_job(obj)
        if self.runs_workloads and obj["kind"] == "Notebook" and self.notebooks_start:
            obj["status"] = {"readyReplicas": 1, "containerState": {"running": {}}}
        return copy.deepcopy(obj)

    def delete(self, api_version, kind, name, namespace=None) -> None:
        if self.objects.pop(self._key(api_version, kind, namespace, name), None) is not None:
            self.deleted.append((kind, name))
            if kind == "Job":
                for pod in self.list("v1", "Pod", namespace, label_selector=f"job-name={name}"):
                    self.objects.pop(self._key("v1", "Pod", namespace, pod["metadata"]["name"]))

    def watch(self, api_version, kind, namespace=None, *, name=None, timeout=60.0) -> Iterator:
        # Controllers here act synchronously, so a watch has at most the current state.
        time.sleep(min(timeout, 0.01))
        obj = self.get(api_version, kind, name, namespace) if name else None
        if obj is not None:
            yield "MODIFIED", obj

    def pod_logs(self, name, namespace, *, container=None, tail_lines=200) -> str:
        try:
            return self.logs[(namespace, name)]
        except KeyError:
            raise KfstackError(f"pod {namespace}/{name} not found (404)") from None

    def create_token(self, namespace, service_account, *, seconds=900) -> str:
        if f"{namespace}/{service_account}" not in self.service_accounts:
            raise KfstackError(f"serviceaccount {namespace}/{service_account} not found (404)")
        token = f"sa-token-{namespace}-{service_account}"
        redact.register(token)
        return token

    # -------------------------------------------------------------- controllers

    def _matching_node(self, pod_spec: Obj) -> Obj | None:
        selector = pod_spec.get("nodeSelector", {})
        for node in [*self.list("v1", "Node"), *self.autoscale]:
            labels = node["metadata"].get("labels", {})
            if all(labels.get(k) == v for k, v in selector.items()):
                if node in self.autoscale:
                    self.autoscale.remove(node)
                    self._put(node)
                return node
        return None

    def _run_job(self, job: Obj) -> None:
        pod_spec = job["spec"]["template"]["spec"]
        node = self._matching_node(pod_spec)
        ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
        if node is None:
            # Unschedulable: the pod stays Pending with the scheduler's reason, for ever.
            self._put(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{name}-p3nd1",
                        "namespace": ns,
                        "labels": {"job-name": name},
                    },
                    "status": {
                        "phase": "Pending",
                        "conditions": [
                            {
                                "type": "PodScheduled",
                                "status": "False",
                                "reason": "Unschedulable",
                                "message": "0/3 nodes are available: 3 node(s) didn't match "
                                "Pod's node affinity/selector.",
                            }
                        ],
                    },
                }
            )
            return
        container = pod_spec["containers"][0]
        bin_dir = self.tmp / f"bin-{node['metadata']['name']}"
        bin_dir.mkdir(exist_ok=True)
        smi = bin_dir / "nvidia-smi"
        smi.write_text(f"#!/bin/sh\necho '{node.get('_gpu_name') or ''}'\n")
        smi.chmod(0o755)
        device = self.tmp / f"nvidia0-{node['metadata']['name']}"
        if node.get("_gpu_name"):
            device.touch()
        script = container["command"][2].replace("/dev/nvidia0", str(device))
        result = subprocess.run(
            ["sh", "-c", script, *container["args"]],
            capture_output=True,
            text=True,
            env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
            timeout=30,
        )
        pod = f"{name}-x7k2p"
        self._put(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod, "namespace": ns, "labels": {"job-name": name}},
                "spec": {"nodeName": node["metadata"]["name"]},
            }
        )
        self.logs[(ns, pod)] = result.stdout + result.stderr
        kind = "Complete" if result.returncode == 0 else "Failed"
        job["status"] = {"conditions": [{"type": kind, "status": "True"}]}
