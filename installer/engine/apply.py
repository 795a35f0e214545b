"""Apply a rendered platform tree to a cluster: ordered, parallel, resumable, pruning.

`apply_platform` schedules components by their dependencies: a component starts when
every dependency converged, and at most `concurrency` components send objects at once
(waiting on a rollout takes no slot). Inside a component:

    1. record the inventory (state applying: old and new objects)
    2. apply Namespaces and CRDs, then the built-in kinds (legacy kubectl order,
       webhook configurations last), without waiting in between
    3. wait for the component's CRDs to be Established
    4. apply its custom resources; "no matches for kind" is retried with backoff, a
       webhook that is not serving yet is waited for (its Service's endpoints), then
       the object is applied again
    5. wait until ready: workloads rolled out, webhook Services with ready endpoints,
       Issuers and Certificates Ready, Profiles turned into namespaces
    6. prune what the previous render had and this one has not; record converged

A converged component whose digest is unchanged and whose workloads are still ready is
skipped, which makes a re-run after an interruption resume where it stopped.
Transient API failures retry with backoff (logged "retrying in N s"); a permanent one
(400, 403, 404, 422) fails the component at once, naming the object, and its
dependents are skipped while independent components carry on.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from installer.console import Reporter
from installer.engine import inventory as inv
from installer.engine import waits
from installer.engine.retry import Backoff, sleep
from installer.errors import Interrupted, KfstackError, UserError
from installer.kube import ApiError, KubeClient, KubeError, NoMatchError
from installer.platform.tree import PlatformTree
from installer.secrets import SecretStore

LOG = logging.getLogger("kfstack.engine")
FIELD_MANAGER = "kfstack"

# kubectl's legacy apply order (kustomize `legacy` sort), which the upstream example
# also uses: what others depend on first, webhook configurations last.
ORDER = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "NetworkPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
]
LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
NEVER_PRUNE = {"PersistentVolumeClaim"}
CERT_KINDS = ("Certificate", "Issuer", "ClusterIssuer")
PER_COMPONENT = 4  # parallel requests inside one component's batch
FIRST_KINDS = ("Namespace", "CustomResourceDefinition")
BUILTIN_GROUPS = {
    "",
    "apps",
    "batch",
    "policy",
    "autoscaling",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "coordination.k8s.io",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
    "apiregistration.k8s.io",
}

# Component states, as shown in progress lines and the final table.
CONVERGED, UNCHANGED, FAILED, SKIPPED, PENDING, PRUNED = (
    "converged",
    "unchanged",
    "failed",
    "skipped",
    "pending",
    "pruned",
)


class ComponentFailed(KfstackError):
    """One component could not converge; `obj` names the object when one was at fault."""

    def __init__(self, component: str, message: str, obj: str | None = None) -> None:
        self.component, self.obj = component, obj
        where = f"{obj}: " if obj else ""
        super().__init__(f"component {component}: {where}{message}")


@dataclass
class ComponentResult:
    name: str
    state: str = PENDING
    seconds: float = 0.0
    applied: int = 0  # server-side apply requests that succeeded
    pruned: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "seconds": round(self.seconds, 3),
            "applied": self.applied,
            "pruned": self.pruned,
            "error": self.error,
        }


@dataclass
class ApplyResult:
    platform: str
    components: dict[str, ComponentResult]
    events: list[tuple[float, str, str]] = field(default_factory=list)
    seconds: float = 0.0
    pruned_components: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.state in (CONVERGED, UNCHANGED, PRUNED) for c in self.components.values())

    def failures(self) -> list[ComponentResult]:
        return [c for c in self.components.values() if c.state == FAILED]

    def table(self) -> str:
        width = max([len(n) for n in self.components] + [9])
        lines = [f"{'component':<{width}}  {'state':<10} {'time':>7} {'applied':>7} {'pruned':>6}"]
        for c in self.components.values():
            lines.append(
                f"{c.name:<{width}}  {c.state:<10} {c.seconds:>6.1f}s {c.applied:>7} {c.pruned:>6}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "components": [c.to_dict() for c in self.components.values()],
            "pruned_components": self.pruned_components,
        }


@dataclass
class Options:
    concurrency: int = 4
    timeout: float = 1200.0  # per component, real seconds
    backoff: Backoff = field(default_factory=Backoff)
    stop: threading.Event | None = None
    field_manager: str = FIELD_MANAGER


def apply_platform(
    tree: PlatformTree,
    kube: KubeClient,
    *,
    infra: dict[str, Any] | None = None,
    store: SecretStore | None = None,
    reporter: Reporter | None = None,
    concurrency: int = 4,
    timeout: float = 1200.0,
    backoff: Backoff | None = None,
    stop: threading.Event | None = None,
) -> ApplyResult:
    """Apply every component of `tree`, prune what newer renders dropped, and report.

    Returns the result even when components failed (`result.ok` is False then).

    Raises:
        UserError: the tree is inconsistent (unknown dependency, a cycle) or a pending
            value/secret is missing; nothing is applied then.
        Interrupted: `stop` was set; a re-run resumes.
        KubeError: the cluster is unreachable before any component started.
    """
    opts = Options(concurrency, timeout, backoff or Backoff(), stop)
    reporter = reporter or Reporter()
    # Build every component's objects first: a missing secret or pending value is the
    # person's to fix and must stop the run before anything changes in the cluster.
    desired = {c.name: _desired(tree, c.name, infra, store) for c in tree.components}
    _check_graph(tree)
    return _Run(tree, kube, desired, opts, reporter).run()


def component_objects(
    tree: PlatformTree,
    name: str,
    infra: dict[str, Any] | None,
    store: SecretStore | None,
) -> list[dict[str, Any]]:
    """The objects the engine applies for one component: filled, secrets built, labelled."""
    return _desired(tree, name, infra, store)[1]


def _desired(
    tree: PlatformTree, name: str, infra: dict[str, Any] | None, store: SecretStore | None
) -> tuple[str, list[dict[str, Any]]]:
    objects = []
    for obj in tree.objects(name, infra=infra, store=store):
        obj = copy.deepcopy(obj)
        labels = obj.setdefault("metadata", {}).setdefault("labels", {}) or {}
        labels[inv.LABEL_PLATFORM] = tree.platform
        labels[inv.LABEL_COMPONENT] = name
        obj["metadata"]["labels"] = labels
        objects.append(obj)
    objects.sort(key=_order_key)
    return _digest(tree.component(name).digest, objects), objects


def _digest(index_digest: str, objects: list[dict[str, Any]]) -> str:
    # Secret values stay out of the digest (it is stored in a ConfigMap); a changed
    # secret alone does not re-apply a converged component.
    # TODO(engine): keyed digest of secret values so rotations re-apply; needs a
    # generated HMAC key in the SecretStore.
    scrubbed = [
        {**o, "data": sorted(o.get("data") or {})} if o.get("kind") == "Secret" else o
        for o in objects
    ]
    text = index_digest + json.dumps(scrubbed, sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _order_key(obj: dict[str, Any]) -> tuple[int, str, str, str]:
    kind = obj.get("kind", "")
    if kind in ORDER:
        rank = ORDER.index(kind)
    elif kind in LAST:
        rank = 100 + LAST.index(kind)
    else:
        rank = len(ORDER)
    meta = obj.get("metadata") or {}
    return rank, kind, meta.get("namespace") or "", meta.get("name", "")


def _check_graph(tree: PlatformTree) -> None:
    names = {c.name for c in tree.components}
    for comp in tree.components:
        for dep in comp.depends_on:
            if dep not in names:
                raise UserError(
                    f"platform tree {tree.root}: component {comp.name} depends on unknown "
                    f"component {dep!r}",
                    hint="render the tree again with `kfstack render`",
                )
    seen: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if seen.get(name) == 2:
            return
        if seen.get(name) == 1:
            raise UserError(f"platform tree: dependency cycle {' -> '.join(path + (name,))}")
        seen[name] = 1
        for dep in tree.component(name).depends_on:
            visit(dep, path + (name,))
        seen[name] = 2

    for comp in tree.components:
        visit(comp.name, ())


def is_custom(obj: dict[str, Any]) -> bool:
    group = obj.get("apiVersion", "").rpartition("/")[0]
    return group not in BUILTIN_GROUPS


class _Run:
    def __init__(
        self,
        tree: PlatformTree,
        kube: KubeClient,
        desired: dict[str, tuple[str, list[dict[str, Any]]]],
        opts: Options,
        reporter: Reporter,
    ) -> None:
        self.tree, self.kube, self.desired, self.opts = tree, kube, desired, opts
        self.reporter = reporter
        self.started = time.monotonic()
        self.result = ApplyResult(
            tree.platform, {c.name: ComponentResult(c.name) for c in tree.components}
        )
        self.lock = threading.Lock()
        # Bounds the components sending objects at once; a component waiting on a watch
        # holds no slot, so a slow rollout never idles the others.
        self.slots = threading.BoundedSemaphore(opts.concurrency)
        # Where each webhook sends its calls, from every component of the tree, so a
        # rejection can be waited out on the right Service.
        self.webhooks: dict[str, tuple[str, str]] = {}
        for _, objects in desired.values():
            for obj in objects:
                if obj["kind"] in LAST:
                    for hook in obj.get("webhooks") or []:
                        svc = (hook.get("clientConfig") or {}).get("service")
                        if svc:
                            self.webhooks[hook["name"]] = (svc["namespace"], svc["name"])

    def event(self, component: str, text: str) -> None:
        elapsed = time.monotonic() - self.started
        with self.lock:
            self.result.events.append((elapsed, component, text))
        LOG.info("%7.2fs %s: %s", elapsed, component, text)

    # ------------------------------------------------------------ scheduling

    def run(self) -> ApplyResult:
        self._retrying(
            "kfstack inventory namespace",
            lambda: self.kube.apply(
                inv.namespace_object(self.tree.platform), field_manager=self.opts.field_manager
            ),
        )
        records = self._retrying(
            "read inventory", lambda: inv.read_all(self.kube, self.tree.platform)
        )
        comps = {c.name: c for c in self.tree.components}
        done: set[str] = set()
        blocked: set[str] = set()
        running: dict[Future, str] = {}
        total = len(comps)
        with ThreadPoolExecutor(max_workers=max(1, total)) as pool:
            while len(done) + len(blocked) < total:
                for name, comp in comps.items():
                    if name in done or name in blocked or name in running.values():
                        continue
                    failed_deps = [d for d in comp.depends_on if d in blocked]
                    if failed_deps:
                        blocked.add(name)
                        res = self.result.components[name]
                        res.state = SKIPPED
                        res.error = f"dependency {failed_deps[0]} did not converge"
                        self.event(name, f"skipped: {res.error}")
                        self.reporter.fail(f"{name}: skipped ({res.error})")
                        continue
                    if all(d in done for d in comp.depends_on):
                        running[pool.submit(self._component, name, records.get(name))] = name
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    name = running.pop(fut)
                    exc = fut.exception()
                    if isinstance(exc, Interrupted):
                        if self.opts.stop is not None:
                            self.opts.stop.set()
                        for other in running:
                            other.cancel()
                        raise exc
                    if exc is not None:
                        self._fail(name, exc)
                        blocked.add(name)
                    else:
                        done.add(name)
        if self.result.ok:
            self._prune_removed(records)
        self.result.seconds = time.monotonic() - self.started
        for line in self.result.table().splitlines():
            self.reporter.line(line)
        return self.result

    def _fail(self, name: str, exc: BaseException) -> None:
        res = self.result.components[name]
        res.state = FAILED
        res.seconds = time.monotonic() - self.started - res.seconds
        res.error = (
            exc.message if isinstance(exc, KfstackError) else f"{type(exc).__name__}: {exc}"
        )
        if not isinstance(exc, KfstackError):
            LOG.error("component %s: unexpected error", name, exc_info=exc)
        self.event(name, f"failed: {res.error}")
        self.reporter.fail(f"{name}: {res.error}")

    # ------------------------------------------------------------ one component

    def _component(self, name: str, record: inv.Record | None) -> None:
        res = self.result.components[name]
        start = time.monotonic()
        res.seconds = start - self.started  # replaced by the duration at the end
        digest, objects = self.desired[name]
        if record and record.state == inv.CONVERGED and record.digest == digest:
            if self._still_ready(name, objects):
                res.state, res.seconds = UNCHANGED, time.monotonic() - start
                self.event(name, "unchanged")
                self.reporter.ok(f"{name}: unchanged")
                return
        self.event(name, "started")
        self.reporter.line(f"{name}: applying {len(objects)} objects")
        deadline = start + self.opts.timeout
        new_refs = [inv.ObjectRef.of(o) for o in objects]
        old_refs = record.objects if record else []
        self._retrying(
            f"{name} inventory",
            lambda: inv.write(
                self.kube,
                self.tree.platform,
                inv.Record(name, "", inv.APPLYING, old_refs + new_refs),
                self.opts.field_manager,
            ),
        )

        firsts = [o for o in objects if o["kind"] in FIRST_KINDS]
        builtins = [o for o in objects if not is_custom(o) and o["kind"] not in FIRST_KINDS]
        customs = [o for o in objects if is_custom(o)]
        with self.slots:
            # Batches in order; inside a batch objects go out in parallel (the API time
            # of a large component is otherwise on the critical path).
            batches = [
                [o for o in firsts if o["kind"] == "Namespace"],
                [o for o in firsts if o["kind"] == "CustomResourceDefinition"],
                [o for o in builtins if o["kind"] not in LAST],
                [o for o in builtins if o["kind"] in LAST],
            ]
            for batch in batches:
                self._apply_batch(name, batch, deadline, res)
        crds = [o["metadata"]["name"] for o in firsts if o["kind"] == "CustomResourceDefinition"]
        if crds:
            self._wait(
                name,
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                None,
                set(crds),
                deadline,
                "Established",
            )
            self.event(name, f"{len(crds)} CRDs established")
        with self.slots:
            self._apply_customs(name, customs, deadline, res)
        self._wait_ready(name, objects, deadline)

        removed = sorted(set(old_refs) - set(new_refs))
        if removed:
            res.pruned += self._prune(name, removed)
        self._retrying(
            f"{name} inventory",
            lambda: inv.write(
                self.kube,
                self.tree.platform,
                inv.Record(name, digest, inv.CONVERGED, new_refs),
                self.opts.field_manager,
            ),
        )
        res.state, res.seconds = CONVERGED, time.monotonic() - start
        self.event(name, "ready")
        self.reporter.ok(f"{name}: ready ({res.seconds:.1f}s, {res.applied} objects)")

    def _apply_batch(
        self, name: str, batch: list[dict[str, Any]], deadline: float, res: ComponentResult
    ) -> None:
        if len(batch) <= 1:
            for obj in batch:
                self._apply(name, obj, deadline, res)
            return
        with ThreadPoolExecutor(max_workers=PER_COMPONENT) as pool:
            futures = [pool.submit(self._apply, name, obj, deadline, res) for obj in batch]
            for fut in futures:
                fut.result()  # the first failure, in manifest order

    def _apply_customs(
        self, name: str, customs: list[dict[str, Any]], deadline: float, res: ComponentResult
    ) -> None:
        """Apply custom resources in passes: one rejected by a webhook that is not serving
        yet is put back while the rest go ahead (the webhook's own Deployment may need a
        Certificate further down the list), then the webhook is waited for."""
        # cert-manager's kinds first: webhook backends mount the Secrets they produce.
        queue = sorted(customs, key=lambda o: o["apiVersion"].split("/")[0] != "cert-manager.io")
        for _ in range(self.opts.backoff.attempts + 1):
            deferred: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for obj in queue:
                hook = self._apply(name, obj, deadline, res, defer_webhooks=True)
                if hook:
                    deferred[hook].append(obj)
            if not deferred:
                return
            for hook in sorted(deferred):
                ns, svc = self.webhooks[hook]
                self.event(name, f"webhook {hook} not serving; waiting for {ns}/{svc}")
                self._wait(name, "v1", "Endpoints", ns, {svc}, deadline, "serving")
            queue = [o for objs in deferred.values() for o in objs]
        raise ComponentFailed(
            name, "webhooks kept rejecting objects", str(inv.ObjectRef.of(queue[0]))
        )

    def _apply(
        self,
        name: str,
        obj: dict[str, Any],
        deadline: float,
        res: ComponentResult,
        *,
        defer_webhooks: bool = False,
    ) -> str | None:
        """Apply one object with retries. Returns the webhook's name instead when
        `defer_webhooks` and a known webhook is not serving yet.

        Raises:
            ComponentFailed: a permanent error, or transient ones past the retry cap.
        """
        ref = inv.ObjectRef.of(obj)
        rng = random.Random()
        attempt = 0
        while True:
            self._check_stop()
            try:
                self.kube.apply(obj, field_manager=self.opts.field_manager)
                with self.lock:
                    res.applied += 1
                return None
            except NoMatchError as exc:
                error: KubeError = exc
            except ApiError as exc:
                if not exc.transient:
                    raise ComponentFailed(
                        name, f"{exc.code} {exc.reason}: {exc}", str(ref)
                    ) from None
                error = exc
                hook = exc.webhook
                if hook and hook in self.webhooks and defer_webhooks:
                    return hook
                if hook and hook in self.webhooks:
                    ns, svc = self.webhooks[hook]
                    self.event(name, f"{ref}: webhook {hook} not serving; waiting for {ns}/{svc}")
                    self._wait(name, "v1", "Endpoints", ns, {svc}, deadline, "serving")
                    continue
            except KubeError as exc:
                if not exc.transient:
                    raise ComponentFailed(name, str(exc), str(ref)) from None
                error = exc
            if attempt >= self.opts.backoff.attempts or time.monotonic() > deadline:
                raise ComponentFailed(
                    name, f"gave up after {attempt + 1} attempts: {error}", str(ref)
                )
            delay = self.opts.backoff.delay(attempt, rng, getattr(error, "retry_after", None))
            attempt += 1
            LOG.info("%s: %s: %s; retrying in %.2f s", name, ref, error, delay)
            sleep(delay, self.opts.stop)

    def _wait(
        self,
        name: str,
        api_version: str,
        kind: str,
        namespace: str | None,
        names: set[str],
        deadline: float,
        what: str,
    ) -> None:
        predicate = waits.predicate_for(kind)
        assert predicate is not None
        try:
            waits.wait_for(
                self.kube,
                api_version,
                kind,
                namespace,
                names,
                predicate,
                deadline=deadline,
                stop=self.opts.stop,
                backoff=self.opts.backoff,
                what=what,
            )
        except waits.WaitTimeout as exc:
            raise ComponentFailed(name, exc.message) from None
        except KubeError as exc:
            raise ComponentFailed(name, f"while waiting for {kind}: {exc}") from None

    def _wait_ready(self, name: str, objects: list[dict[str, Any]], deadline: float) -> None:
        groups: dict[tuple[str, str, str | None], set[str]] = defaultdict(set)
        for obj in objects:
            kind, meta = obj["kind"], obj["metadata"]
            cert_manager = obj["apiVersion"].startswith("cert-manager.io/")
            if kind in WORKLOADS or (cert_manager and kind in CERT_KINDS):
                groups[(obj["apiVersion"], kind, meta.get("namespace"))].add(meta["name"])
            elif kind == "Profile" and obj["apiVersion"].startswith("kubeflow.org/"):
                groups[("v1", "Namespace", None)].add(meta["name"])
            elif kind in LAST:
                for hook in obj.get("webhooks") or []:
                    svc = (hook.get("clientConfig") or {}).get("service")
                    if svc:
                        groups[("v1", "Endpoints", svc["namespace"])].add(svc["name"])
        # Certificates and Issuers first: workloads mounting their Secrets wait on them.
        rank = {"ClusterIssuer": 0, "Issuer": 1, "Certificate": 2}
        for (api_version, kind, ns), names in sorted(
            groups.items(), key=lambda kv: (rank.get(kv[0][1], 3), kv[0][1], kv[0][2] or "")
        ):
            what = "serving" if kind == "Endpoints" else "ready"
            self._wait(name, api_version, kind, ns, names, deadline, what)
        if groups:
            self.event(name, "workloads, webhooks and certificates ready")

    def _still_ready(self, name: str, objects: list[dict[str, Any]]) -> bool:
        """The cheap check behind skipping: one list per workload kind, by label."""
        wanted: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for obj in objects:
            if obj["kind"] in WORKLOADS:
                meta = obj["metadata"]
                wanted[obj["kind"]].add((meta.get("namespace") or "", meta["name"]))
        try:
            for kind, refs in wanted.items():
                res = self.kube.resource("apps/v1", kind)
                items = self.kube.list(res, label_selector=f"{inv.LABEL_COMPONENT}={name}").get(
                    "items", []
                )
                ready = {
                    (i["metadata"].get("namespace") or "", i["metadata"]["name"])
                    for i in items
                    if waits.workload_ready(i)
                }
                if not refs <= ready:
                    return False
        except KubeError as exc:
            LOG.info("%s: readiness check failed (%s); applying again", name, exc)
            return False
        return True

    # ------------------------------------------------------------ pruning

    def _prune(self, component: str, refs: list[inv.ObjectRef]) -> int:
        """Delete objects of `component` that the tree no longer has. Returns how many."""
        count = 0
        # Custom resources first (their controllers may still need the CRD), namespaces last.
        ordered = sorted(
            refs,
            key=lambda r: (
                -_order_key({"kind": r.kind, "metadata": {}})[0],
                r.kind,
                r.namespace,
                r.name,
            ),
        )
        ordered.sort(key=lambda r: r.kind == "Namespace")
        for ref in ordered:
            if ref.kind in NEVER_PRUNE:
                continue
            try:
                res = self.kube.resource(ref.api_version, ref.kind)
            except NoMatchError:
                continue  # its CRD is gone, and the object with it
            live = self._retrying(
                f"prune {ref}",
                lambda r=res, ref=ref: self.kube.get_or_none(r, ref.name, ref.namespace or None),
            )
            if live is None:
                continue
            labels = (live.get("metadata") or {}).get("labels") or {}
            if (
                labels.get(inv.LABEL_COMPONENT) != component
                or labels.get(inv.LABEL_PLATFORM) != self.tree.platform
            ):
                LOG.info("not pruning %s: not labelled as %s's any more", ref, component)
                continue
            if ref.kind == "Namespace" and not self._namespace_prunable(ref.name, component):
                continue
            if self._retrying(
                f"prune {ref}",
                lambda r=res, ref=ref: self.kube.delete(r, ref.name, ref.namespace or None),
            ):
                count += 1
                self.event(component, f"pruned {ref}")
        return count

    def _namespace_prunable(self, namespace: str, component: str) -> bool:
        """A namespace goes only if it holds no PVC and nothing of another component."""
        pvcs = self.kube.list(self.kube.resource("v1", "PersistentVolumeClaim"), namespace)
        if pvcs.get("items"):
            self.reporter.warn(f"not pruning namespace {namespace}: it holds volumes (PVCs)")
            return False
        for kind in ("Deployment", "StatefulSet"):
            items = self.kube.list(self.kube.resource("apps/v1", kind), namespace)
            for item in items.get("items", []):
                labels = item["metadata"].get("labels") or {}
                if labels.get(inv.LABEL_COMPONENT) not in (component, None):
                    return False
        ns = self.kube.get_or_none(self.kube.resource("v1", "Namespace"), namespace)
        owners = (ns or {}).get("metadata", {}).get("ownerReferences") or []
        return not any(o.get("kind") == "Profile" for o in owners)

    def _prune_removed(self, records: dict[str, inv.Record]) -> None:
        present = {c.name for c in self.tree.components}
        for name, record in sorted(records.items()):
            if name in present:
                continue
            self.reporter.line(
                f"{name}: no longer rendered; pruning {len(record.objects)} objects"
            )
            res = ComponentResult(name)
            start = time.monotonic()
            res.pruned = self._prune(name, record.objects)
            self._retrying(f"forget {name}", lambda n=name: inv.forget(self.kube, n))
            res.state, res.seconds = PRUNED, time.monotonic() - start
            self.result.components[name] = res
            self.result.pruned_components.append(name)
            self.event(name, "pruned")

    # ------------------------------------------------------------ helpers

    def _check_stop(self) -> None:
        if self.opts.stop is not None and self.opts.stop.is_set():
            raise Interrupted("the install was stopped; re-run to resume")

    def _retrying(self, what: str, fn):  # noqa: ANN001, ANN202 - a thin retry wrapper
        rng = random.Random()
        for attempt in range(self.opts.backoff.attempts + 1):
            self._check_stop()
            try:
                return fn()
            except KubeError as exc:
                if not exc.transient or attempt == self.opts.backoff.attempts:
                    raise
                delay = self.opts.backoff.delay(attempt, rng, getattr(exc, "retry_after", None))
                LOG.info("%s: %s; retrying in %.2f s", what, exc, delay)
                sleep(delay, self.opts.stop)
        raise AssertionError("unreachable")
