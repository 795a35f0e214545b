"""Apply a rendered platform tree to a cluster: need-driven, parallel, resumable, pruning.

`apply_platform` schedules objects, not components: every object of the tree is sent
as soon as what it needs holds in the cluster (`needs.py`: its namespace, its CRD
Established, the admission webhooks that would intercept it registered and serving;
for workloads also their ServiceAccount, mounted ConfigMaps and Secrets, and the
Services they reach at start serving), which the observer (`observe.py`) reports from
watches. So nothing is rejected, no pod starts into a crash loop, and a chain inside a
component (MySQL, then metadata-grpc, then metadata-writer) starts at the earliest
moment the cluster allows. At most `concurrency * SENDERS` applies are in flight, the
ones others wait on first. Components remain the unit of reporting and bookkeeping:

    1. a converged component with the same digest whose workloads are still ready is
       skipped (its objects count as applied); this makes a re-run resume
    2. record the inventory (state applying: old and new objects)
    3. apply its objects as their needs come true ("started" at the first)
    4. wait until ready: workloads rolled out, webhook Services with a ready
       EndpointSlice address, Issuers and Certificates Ready, Profiles turned into
       namespaces
    5. prune what the previous render had and this one has not
    6. once every component it depends on converged, record converged ("ready")

Transient API failures retry with backoff (logged "retrying in N s"); a permanent one
(400, 403, 404, 422), or a need that does not hold by the component's deadline, fails
the component at once, naming the object; its dependents stop and are skipped while
independent components carry on.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import logging
import random
import threading
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from installer.console import Reporter
from installer.engine import inventory as inv
from installer.engine import needs as needs_
from installer.engine import observe, waits
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
# The generated secret (in the SecretStore, 0600) that keys Secret values in digests.
DIGEST_KEY = "engine-digest-key"
LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
NEVER_PRUNE = {"PersistentVolumeClaim"}
CERT_KINDS = ("Certificate", "Issuer", "ClusterIssuer")
# A Service serves once one of its EndpointSlices has a ready address (v1 Endpoints
# is deprecated since Kubernetes 1.33 and its reads draw a warning).
SLICES = "discovery.k8s.io/v1"
# Applies in flight per unit of `concurrency`: 4 x 2 = 8 by default, which leaves room in
# a 16-connection client pool for the observer's 4 watches and the readiness waits.
SENDERS = 2

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
    api_warnings: dict[str, int] = field(default_factory=dict)  # text -> times sent

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
            "api_warnings": [{"text": k, "count": v} for k, v in self.api_warnings.items()],
        }


@dataclass
class Options:
    concurrency: int = 4  # applies in flight: concurrency * SENDERS
    # Real seconds per level of the component graph: a component's deadline is
    # run start + timeout x its depth, as when components ran one after another.
    timeout: float = 1200.0
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
    for obj in tree.objects(name, infra=infra, store=store):  # parsed afresh: ours to label
        labels = obj.setdefault("metadata", {}).setdefault("labels", {}) or {}
        labels[inv.LABEL_PLATFORM] = tree.platform
        labels[inv.LABEL_COMPONENT] = name
        obj["metadata"]["labels"] = labels
        objects.append(obj)
    objects.sort(key=_order_key)
    key = store.generated(DIGEST_KEY, length=64).encode() if store is not None else b""
    return _digest(tree.component(name).digest, objects, key), objects


def _digest(index_digest: str, objects: list[dict[str, Any]], key: bytes) -> str:
    # The digest is stored in a ConfigMap, so Secret values enter it only as HMACs under
    # a key kept 0600 in the work directory: a rotated value re-applies the component,
    # and neither the value nor a plain (guessable) hash of it reaches the cluster.
    def sealed(values: dict[str, Any]) -> dict[str, str]:
        return {
            k: hmac.new(key, f"{k}\0{v}".encode(), hashlib.sha256).hexdigest() if key else ""
            for k, v in sorted(values.items())
        }

    scrubbed = [
        {**o, "data": sealed(o.get("data") or {}), "stringData": sealed(o.get("stringData") or {})}
        if o.get("kind") == "Secret"
        else o
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


class _Halted(Exception):
    """The component was stopped because a component it depends on failed."""


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
        self.facts = observe.Facts()
        # Set when a component must stop (it failed, a dependency failed, or the whole
        # run was stopped): its applies and waits end at the next check.
        self.halt = {c.name: threading.Event() for c in tree.components}
        # Set when a component converged (or was unchanged): dependents report ready
        # only after, which keeps the dependency order visible in events and progress.
        self.converged = {c.name: threading.Event() for c in tree.components}
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
        graph = needs_.build(
            {name: objects for name, (_, objects) in self.desired.items()}, self._plural
        )
        for ref, need in graph.cycles:
            self.event(self._owner(ref), f"{ref}: not waiting for {needs_.describe(need)} (cycle)")
        observer = observe.Observer(self.kube, self.facts, self.opts.backoff)
        observer.start(timeout=min(self.opts.timeout, 60.0))
        try:
            with (
                ThreadPoolExecutor(max_workers=self.opts.concurrency * SENDERS) as sender,
                ThreadPoolExecutor(max_workers=max(1, len(self.desired))) as finisher,
            ):
                _Scheduler(self, graph, records, sender, finisher).run()
        finally:
            observer.close()
        if self.result.ok:
            self._prune_removed(records)
        self.result.seconds = time.monotonic() - self.started
        for line in self.result.table().splitlines():
            self.reporter.line(line)
        self.result.api_warnings = dict(self.kube.warnings)
        for text, count in self.result.api_warnings.items():
            times = f" ({count} times)" if count > 1 else ""
            self.reporter.warn(f"the API server warned{times}: {text}")
        return self.result

    def _owner(self, ref: inv.ObjectRef) -> str:
        for name, (_, objects) in self.desired.items():
            if any(inv.ObjectRef.of(o) == ref for o in objects):
                return name
        return ""

    def _plural(self, api_version: str, kind: str) -> str:
        try:
            return self.kube.resource(api_version, kind, refresh=False).plural
        except KubeError:
            lower = kind.lower()
            return lower + ("es" if lower.endswith(("s", "x")) else "s")

    def fail(self, name: str, exc: BaseException) -> None:
        res = self.result.components[name]
        if res.state in (FAILED, SKIPPED, CONVERGED, UNCHANGED):
            return
        self.halt[name].set()
        res.state = FAILED
        res.seconds = time.monotonic() - self.started
        res.error = (
            exc.message if isinstance(exc, KfstackError) else f"{type(exc).__name__}: {exc}"
        )
        if not isinstance(exc, KfstackError):
            LOG.error("component %s: unexpected error", name, exc_info=exc)
        self.event(name, f"failed: {res.error}")
        self.reporter.fail(f"{name}: {res.error}")
        self._skip_dependents(name)

    def _skip_dependents(self, failed: str) -> None:
        for comp in self.tree.components:
            res = self.result.components[comp.name]
            if failed not in comp.depends_on or res.state in (FAILED, SKIPPED, UNCHANGED):
                continue
            self.halt[comp.name].set()
            res.state = SKIPPED
            res.seconds = 0.0
            res.error = f"dependency {failed} did not converge"
            self.event(comp.name, f"skipped: {res.error}")
            self.reporter.fail(f"{comp.name}: skipped ({res.error})")
            self._skip_dependents(comp.name)

    # ------------------------------------------------------------ one component

    def unchanged(self, name: str, record: inv.Record | None) -> bool:
        """A converged component with the same digest whose workloads are still ready."""
        digest, objects = self.desired[name]
        if not (record and record.state == inv.CONVERGED and record.digest == digest):
            return False
        if not self._still_ready(name, objects):
            return False
        res = self.result.components[name]
        res.state, res.seconds = UNCHANGED, 0.0
        self.event(name, "unchanged")
        self.reporter.ok(f"{name}: unchanged")
        return True

    def begin(self, name: str, record: inv.Record | None) -> None:
        """Record the inventory (old and new objects) before the first object goes out."""
        _, objects = self.desired[name]
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

    def finish(self, name: str, record: inv.Record | None, deadline: float) -> None:
        """Once every object is applied: wait until ready, prune, wait for the
        dependencies to converge, record converged.

        Raises:
            ComponentFailed: a wait timed out or the inventory could not be written.
            _Halted: a dependency failed meanwhile.
            Interrupted: the run was stopped.
        """
        res = self.result.components[name]
        digest, objects = self.desired[name]
        try:
            self._wait_ready(name, objects, deadline)
            new_refs = [inv.ObjectRef.of(o) for o in objects]
            removed = sorted(set(record.objects if record else []) - set(new_refs))
            if removed:
                res.pruned += self._prune(name, removed)
            for dep in self.tree.component(name).depends_on:
                while not self.converged[dep].wait(0.05):
                    self._check_stop(name)
            self._retrying(
                f"{name} inventory",
                lambda: inv.write(
                    self.kube,
                    self.tree.platform,
                    inv.Record(name, digest, inv.CONVERGED, new_refs),
                    self.opts.field_manager,
                ),
            )
        except Interrupted:
            if self.opts.stop is not None and self.opts.stop.is_set():
                raise
            raise _Halted(name) from None
        res.state, res.seconds = CONVERGED, time.monotonic() - self.started
        self.converged[name].set()
        self.event(name, "ready")
        self.reporter.ok(f"{name}: ready ({res.seconds:.1f}s, {res.applied} objects)")

    # ------------------------------------------------------------ one object

    def _apply(
        self,
        name: str,
        obj: dict[str, Any],
        deadline: float,
        res: ComponentResult,
    ) -> None:
        """Apply one object with retries; a webhook of the tree that stopped serving is
        waited for (its Service's endpoints), then the object is applied again.

        Raises:
            ComponentFailed: a permanent error, or transient ones past the retry cap.
            _Halted: the component was stopped.
            Interrupted: the run was stopped.
        """
        ref = inv.ObjectRef.of(obj)
        rng = random.Random()
        attempt = 0
        while True:
            self._check_stop(name)
            try:
                self.kube.apply(obj, field_manager=self.opts.field_manager)
                with self.lock:
                    res.applied += 1
                return
            except NoMatchError as exc:
                error: KubeError = exc
            except ApiError as exc:
                if not exc.transient:
                    raise ComponentFailed(
                        name, f"{exc.code} {exc.reason}: {exc}", str(ref)
                    ) from None
                error = exc
                hook = exc.webhook
                if hook and hook in self.webhooks:
                    ns, svc = self.webhooks[hook]
                    self.event(name, f"{ref}: webhook {hook} not serving; waiting for {ns}/{svc}")
                    self._wait(name, SLICES, "EndpointSlice", ns, {svc}, deadline, "serving")
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
            sleep(delay, self.halt[name])

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
                stop=self.halt[name],
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
                        groups[(SLICES, "EndpointSlice", svc["namespace"])].add(svc["name"])
        # Certificates and Issuers first: workloads mounting their Secrets wait on them.
        rank = {"ClusterIssuer": 0, "Issuer": 1, "Certificate": 2}
        for (api_version, kind, ns), names in sorted(
            groups.items(), key=lambda kv: (rank.get(kv[0][1], 3), kv[0][1], kv[0][2] or "")
        ):
            what = "serving" if kind == "EndpointSlice" else "ready"
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

    def _check_stop(self, component: str | None = None) -> None:
        """Raises Interrupted when the run was stopped, _Halted when `component` was."""
        if self.opts.stop is not None and self.opts.stop.is_set():
            raise Interrupted("the install was stopped; re-run to resume")
        if component is not None and self.halt[component].is_set():
            raise _Halted(component)

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


class _Scheduler:
    """Applies every object of the tree once its needs hold (see `needs.py`), with at
    most `concurrency * SENDERS` requests in flight; components finish (ready,
    prune, inventory) on their own threads as soon as their last object is applied."""

    def __init__(
        self,
        run: _Run,
        graph: needs_.NeedGraph,
        records: dict[str, inv.Record],
        sender: ThreadPoolExecutor,
        finisher: ThreadPoolExecutor,
    ) -> None:
        self.run_, self.graph, self.records = run, graph, records
        self.sender, self.finisher = sender, finisher
        self.limit = run.opts.concurrency * SENDERS
        self.comp_of: dict[inv.ObjectRef, str] = {}
        self.obj_of: dict[inv.ObjectRef, dict[str, Any]] = {}
        for name, (_, objects) in run.desired.items():
            for obj in objects:
                ref = inv.ObjectRef.of(obj)
                self.comp_of[ref], self.obj_of[ref] = name, obj
        needed = graph.needed()
        self.rank = {
            ref: (
                0
                if ref.kind in ("Namespace", "CustomResourceDefinition")
                else 1
                if ref in needed or ref.kind in needs_.POD_OWNERS
                else 2,
                *_order_key(obj),
            )
            for ref, obj in self.obj_of.items()
        }
        self.waiting: dict[needs_.Need, list[inv.ObjectRef]] = defaultdict(list)
        self.waited: dict[inv.ObjectRef, needs_.Need] = {}
        self.ready: list[tuple[tuple, inv.ObjectRef]] = []
        self.left: dict[str, int] = {}
        self.started: set[str] = set()
        self.sending: dict[Future, inv.ObjectRef] = {}
        self.finishing: dict[Future, str] = {}
        self.halted: set[str] = set()
        depth: dict[str, int] = {}
        for comp in run.tree.components:  # index order is a topological order
            depth[comp.name] = 1 + max((depth[d] for d in comp.depends_on), default=0)
        # A component may wait on others' objects: its deadline grows with its depth,
        # as it did when components started one after another.
        self.deadline = {n: run.started + run.opts.timeout * d for n, d in depth.items()}

    def alive(self, name: str) -> bool:
        return not self.run_.halt[name].is_set()

    def run(self) -> None:
        run = self.run_
        names = list(run.desired)
        checks = {n: self.finisher.submit(run.unchanged, n, self.records.get(n)) for n in names}
        todo = []
        for name in names:
            if checks[name].result():
                run.converged[name].set()
                run.facts.add(("applied", inv.ObjectRef.of(o)) for o in run.desired[name][1])
            else:
                todo.append(name)
        begun = {n: self.finisher.submit(run.begin, n, self.records.get(n)) for n in todo}
        for name, fut in begun.items():
            exc = fut.exception()
            if isinstance(exc, KubeError):
                run.fail(name, ComponentFailed(name, f"writing its inventory: {exc}"))
            elif exc is not None:
                raise exc
        todo = [n for n in todo if self.alive(n)]
        for name in todo:
            objects = run.desired[name][1]
            self.left[name] = len(objects)
            for obj in objects:
                self.place(inv.ObjectRef.of(obj))
            if not objects:
                self.start(name)
                self.applied_all(name)
        while self.sending or self.finishing or self.ready or self.pending():
            if run.opts.stop is not None and run.opts.stop.is_set():
                self.interrupt()
            for need in run.facts.take_new():
                for ref in self.waiting.pop(need, []):
                    self.waited[ref] = need
                    self.place(ref)
            self.send()
            self.collect()
            self.check_waits()
            run.facts.wait_news(0.25)

    def pending(self) -> bool:
        return any(self.alive(n) and left > 0 for n, left in self.left.items())

    def place(self, ref: inv.ObjectRef) -> None:
        """Queue `ref` on its first need that does not hold, or as ready to send."""
        for need in self.graph.needs.get(ref, []):
            if self.graph.producers.get(need) and not self.run_.facts.holds(need):
                self.waiting[need].append(ref)
                return
        heapq.heappush(self.ready, (self.rank[ref], ref))

    def send(self) -> None:
        run = self.run_
        while self.ready and len(self.sending) < self.limit:
            _, ref = heapq.heappop(self.ready)
            name = self.comp_of[ref]
            if not self.alive(name):
                continue
            self.start(name)
            if ref in self.waited and ref.kind in (*needs_.POD_OWNERS, *LAST):
                run.event(name, f"{ref}: applying once {needs_.describe(self.waited[ref])}")
            fut = self.sender.submit(
                run._apply,
                name,
                self.obj_of[ref],
                self.deadline[name],
                run.result.components[name],
            )
            fut.add_done_callback(lambda _: self._wake())
            self.sending[fut] = ref

    def _wake(self) -> None:
        self.run_.facts.poke()

    def start(self, name: str) -> None:
        if name in self.started:
            return
        self.started.add(name)
        self.run_.event(name, "started")
        self.run_.reporter.line(f"{name}: applying {len(self.run_.desired[name][1])} objects")

    def applied_all(self, name: str) -> None:
        fut = self.finisher.submit(
            self.run_.finish, name, self.records.get(name), self.deadline[name]
        )
        fut.add_done_callback(lambda _: self._wake())
        self.finishing[fut] = name

    def collect(self) -> None:
        run = self.run_
        for fut in [f for f in self.sending if f.done()]:
            ref = self.sending.pop(fut)
            name = self.comp_of[ref]
            exc = fut.exception()
            if isinstance(exc, Interrupted) and run.opts.stop is not None:
                if run.opts.stop.is_set():
                    self.interrupt()
            if exc is None:
                run.facts.add([("applied", ref)])
                self.left[name] -= 1
                if self.left[name] == 0 and self.alive(name):
                    self.applied_all(name)
            elif not isinstance(exc, _Halted):
                run.fail(name, exc)
        for fut in [f for f in self.finishing if f.done()]:
            name = self.finishing.pop(fut)
            exc = fut.exception()
            if isinstance(exc, Interrupted):
                self.interrupt()
            if exc is not None and not isinstance(exc, _Halted):
                run.fail(name, exc)

    def check_waits(self) -> None:
        """Fail components whose objects wait past their deadline, or on a need only a
        stopped component's objects could make true (it would never come)."""
        now = time.monotonic()
        late = {n for n, at in self.deadline.items() if at < now and self.alive(n)}
        halted = {n for n in self.run_.desired if not self.alive(n)}
        if not late and halted == self.halted:
            return
        self.halted = halted
        for need, refs in list(self.waiting.items()):
            producers = self.graph.producers.get(need) or set()
            orphaned = producers and all(self.comp_of[p] in halted for p in producers)
            for ref in refs:
                name = self.comp_of[ref]
                if not self.alive(name):
                    continue
                if name in late:
                    message = f"timed out waiting for {needs_.describe(need)}"
                elif orphaned:
                    owner = self.comp_of[min(producers)]
                    message = f"needs {needs_.describe(need)}, but component {owner} stopped"
                else:
                    continue
                self.run_.fail(name, ComponentFailed(name, message, str(ref)))

    def interrupt(self) -> None:
        """Stop everything; running applies and waits end at their next check."""
        for event in self.run_.halt.values():
            event.set()
        for fut in list(self.sending) + list(self.finishing):
            fut.cancel()
        wait(list(self.sending) + list(self.finishing))
        raise Interrupted("the install was stopped; re-run to resume")
