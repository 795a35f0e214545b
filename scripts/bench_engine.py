"""Benchmark: time to "everything ready" for the engine, Kubeflow's documented retry loop,
and the critical-path lower bound of the dependency graph, in one run, on the same
simulator (same timing model and clock scale) with the same 26.03 manifests.

    .venv/bin/python scripts/bench_engine.py [--scale 0.02]

The loop is the upstream README's `while ! kustomize build example | kubectl apply
--server-side --force-conflicts -f -; do sleep 20; done`, then "wait for all pods":
every object applied in the example's legacy order through the same client, on any
error sleep 20 s (scaled) and start over, then wait until every workload is ready.
The bound: per component, the longest chain of simulated delays once its
dependencies are ready (CRD Established, Certificate issue, workload start, Profile
reconcile), summed along the longest dependency path; inside a component, a workload
is ready no earlier than a restart (`restart_ready`) after the endpoints of every
Service it needs, by the simulator's own dependency rules. Targets: engine <= 0.5x
loop, engine <= 1.15x bound. Prints measured seconds and the ratios.

Modelled (timing.yaml `dependencies`, with sources): a pod whose Secret/ConfigMap
volume is missing stays ContainerCreating and starts at the kubelet's next mount retry
(0.5 s doubling to 2 min 2 s, counted from pod creation); a container whose Services
(read from its env, ConfigMap-sourced env and args, plus a short list of defaults
hard-coded in clients) have no ready endpoints crashes after `crash_after` and is
restarted after 10, 20, 40 ... 300 s (CrashLoopBackOff), becoming Ready at the first
restart after they answer; Istio proxies wait in-process instead. Pods that Istio's
injector (or any Fail webhook) would reject are not created, as before. The same rules
apply to the engine and the loop.

Not modelled: controllers crashing on a watched CRD that is not yet Established (the
loop applies CRDs first, so this rarely bites), liveness-probe timings per workload,
readiness-gated restarts of already-running pods, and the image pull overlapping a
mount wait (the kubelet mounts first, so it does not).

Measured with this model (2026-12-03, 2 cores): scale 1.0 engine 153 s, loop 119 s
(4 rounds), bound 108 s: engine/loop 1.29, engine/bound 1.42; scale 0.1 engine 187,
loop 136, bound 108 simulated s: 1.38 and 1.73. Both targets are missed, and the
model says why: the longest chain is inside Pipelines (metadata-writer needs
metadata-grpc, which needs MySQL's ~50 s first start). The engine applies Pipelines
only once every component it depends on is ready (~50 s in), then applies the whole
component at once, so the chain crash-loops into 40 s back-offs; the loop applies
Pipelines in its first round and pays the same back-offs from t=0. Closing the gap
is engine work (start a component's pods as soon as what they need exists, and
order a component's workloads by the Services they need), not model work.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from installer import engine, kube  # noqa: E402
from installer.engine import waits  # noqa: E402
from installer.engine.apply import _order_key  # noqa: E402
from installer.simcluster import ClusterState, load_timing  # noqa: E402
from installer.simcluster.resources import BUILTIN  # noqa: E402
from installer.simcluster.state import Stored  # noqa: E402
from tests.conftest import find_shared  # noqa: E402
from tests.platform_trees import build_tree  # noqa: E402


@contextlib.contextmanager
def simulator(scale: float, kubeconfig: Path):
    """The simulator in its own process, so server and client do not share one GIL
    (as a real API server would not); both contenders get the same treatment."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "installer.simcluster",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            "--clock-scale",
            str(scale),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        proc.stdout.readline()  # the URL: the server is listening
        yield kube.connect(kubeconfig)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_engine(tree, scale: float, tmp: Path) -> float:
    with simulator(scale, tmp / "kc-engine") as client:
        start = time.monotonic()
        result = engine.apply_platform(
            tree, client, backoff=engine.Backoff(1.0 * scale, 20 * scale), timeout=3600 * scale
        )
        assert result.ok, result.table()
        return time.monotonic() - start


def run_loop(tree, scale: float, tmp: Path) -> tuple[float, int]:
    objects = [
        o for c in tree.components for o in engine.component_objects(tree, c.name, {}, None)
    ]
    objects.sort(key=_order_key)
    with simulator(scale, tmp / "kc-loop") as client:
        start = time.monotonic()
        rounds = 0
        while True:
            rounds += 1
            failed = False
            # kubectl maps every object to its resource before sending any, with the
            # discovery it read at start: kinds whose CRD is in the same batch fail with
            # "no matches for kind" until a later round.
            client.invalidate()
            mapped = []
            for obj in objects:
                try:
                    client.resource(obj["apiVersion"], obj["kind"], refresh=False)
                    mapped.append(obj)
                except kube.NoMatchError:
                    failed = True
            for obj in mapped:  # kubectl carries on past errors and exits 1 at the end
                try:
                    client.apply(obj, field_manager="kubectl", force=True)
                except kube.KubeError:
                    failed = True
            if not failed:
                break
            time.sleep(20 * scale)
        deadline = time.monotonic() + 3600 * scale
        for kind in ("Deployment", "StatefulSet", "DaemonSet"):
            by_ns: dict[str, set[str]] = {}
            for o in objects:
                if o["kind"] == kind:
                    by_ns.setdefault(o["metadata"]["namespace"], set()).add(o["metadata"]["name"])
            for ns, names in by_ns.items():
                waits.wait_for(
                    client, "apps/v1", kind, ns, names, waits.workload_ready, deadline=deadline
                )
        return time.monotonic() - start, rounds


def critical_path(tree, scale: float) -> float:
    timing = load_timing()
    # The simulator's own dependency rules (timing.yaml `dependencies`), read off a
    # scratch state holding every Service and ConfigMap of the tree, so the bound and
    # the simulation agree on what each workload waits for.
    scratch = ClusterState(timing=timing, clock_scale=1.0)
    services, pods = {}, {}
    with scratch.lock:
        for comp in tree.components:
            for o in tree.raw_objects(comp.name):
                plural = {"Service": "services", "ConfigMap": "configmaps"}.get(o["kind"])
                if plural and o["apiVersion"] == "v1" and o["metadata"].get("namespace"):
                    scratch._put_system(scratch._builtin[("", plural)], o)
                    if plural == "services":
                        services[(o["metadata"]["namespace"], o["metadata"]["name"])] = o
    dep_ready = timing["endpoints_delay"] + timing["dependencies"]["restart_ready"]
    ready_at: dict[tuple[str, str], float] = {}  # workload (ns, name) -> absolute ready time

    def workload(ns: str, name: str) -> float:
        for rule in timing["workloads"]:
            if fnmatch.fnmatch(ns, rule.get("namespace", "*")) and fnmatch.fnmatch(
                name, rule.get("name", "*")
            ):
                return float(rule["seconds"])
        return 20.0

    def needs(o: dict) -> list[tuple[str, str]]:
        """Workloads (ns, name) backing the Services this workload needs at start."""
        rtype = next(t for t in BUILTIN if t.kind == o["kind"] and t.group == "apps")
        stored = Stored(rtype, dict(o["metadata"]), {"bench": o})
        with scratch.lock:
            missing = scratch._unmet_dependencies(stored)
        out = []
        for ref in missing:
            sns, sname = ref.split("/", 1)
            selector = (services.get((sns, sname)) or {}).get("spec", {}).get("selector") or {}
            out += [
                w
                for w, labels in pods.items()
                if w[0] == sns
                and selector
                and all(labels.get(k) == v for k, v in selector.items())
            ]
        return out

    finish: dict[str, float] = {}
    for comp in tree.components:  # index order is a topological order
        start = max((finish[d] for d in comp.depends_on), default=0.0)
        objs = tree.raw_objects(comp.name)
        workloads = [o for o in objs if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet")]
        for o in workloads:
            labels = o["spec"]["template"].get("metadata", {}).get("labels") or {}
            pods[(o["metadata"].get("namespace", ""), o["metadata"]["name"])] = labels
        cert_secrets = {
            o["spec"].get("secretName")
            for o in objs
            if o["kind"] == "Certificate" and o["apiVersion"].startswith("cert-manager.io")
        }
        has_crds = any(o["kind"] == "CustomResourceDefinition" for o in objs)
        # cert-manager's own Certificates wait for its controller; others only for the issue.
        cert_ready = timing["certificate_issue"] + (timing["crd_established"] if has_crds else 0)
        end = timing["crd_established"] if has_crds else 0.0
        if cert_secrets:
            end = max(end, cert_ready)
        for o in objs:
            if o["kind"] == "Profile":
                end = max(end, timing["profile_reconcile"])
        # A workload is ready no earlier than its own start-up after its mounted
        # Certificate Secret, nor than a restart after what it needs is ready; passes
        # until the times settle resolve dependencies between this component's workloads.
        deps = {
            (o["metadata"].get("namespace", ""), o["metadata"]["name"]): needs(o)
            for o in workloads
        }
        for _ in range(len(workloads) + 1):
            for o in workloads:
                key = (o["metadata"].get("namespace", ""), o["metadata"]["name"])
                pod = o["spec"]["template"]["spec"]
                mounts = {v.get("secret", {}).get("secretName") for v in pod.get("volumes") or []}
                begin = start + (cert_ready if mounts & cert_secrets else 0.0)
                at = begin + workload(*key)
                for dep in deps[key]:
                    if dep in ready_at and dep != key:
                        at = max(at, ready_at[dep] + dep_ready)
                ready_at[key] = at
        own = [
            ready_at[(o["metadata"].get("namespace", ""), o["metadata"]["name"])]
            for o in workloads
        ]
        finish[comp.name] = max([start + end, *own])
    return max(finish.values()) * scale


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--release", default="26.03")
    args = parser.parse_args()
    shared = find_shared()
    if shared is None:
        print("needs shared/kubeflow-manifests beside the repository", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        manifests = shared / "kubeflow-manifests"
        tree = build_tree(
            manifests / args.release, manifests / "remote", tmp / "platform", work=tmp
        )
        bound = critical_path(tree, args.scale)
        engine_s = run_engine(tree, args.scale, tmp)
        loop_s, rounds = run_loop(tree, args.scale, tmp)
    print(f"release {args.release}, clock scale {args.scale} (1 simulated s = {args.scale} s)")
    print(f"engine:           {engine_s:7.2f} s  ({engine_s / args.scale:6.0f} simulated s)")
    loop_sim = loop_s / args.scale
    print(f"documented loop:  {loop_s:7.2f} s  ({loop_sim:6.0f} simulated s, {rounds} rounds)")
    print(f"critical path:    {bound:7.2f} s  ({bound / args.scale:6.0f} simulated s)")
    print(f"engine / loop  = {engine_s / loop_s:.2f}  (target <= 0.50)")
    print(f"engine / bound = {engine_s / bound:.2f}  (target <= 1.15)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
