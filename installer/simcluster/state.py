"""The simulated cluster's state: objects, server-side apply, watches and the controllers.

This is a simulator, not Kubernetes. It keeps objects in memory and reproduces the
behaviour that makes Kubeflow installs hard, on a scaled clock (see `timing.yaml`):

- custom resources are unknown until their CRD is Established (a delay);
- admission webhooks with a service reference reject matching objects, with the API
  server's own error text, until the service has ready endpoints;
- Deployments/StatefulSets/DaemonSets get a pod once admission and the ServiceAccount
  allow, checked when the controller's rate-limited work queue hands the workload out
  (a rejected creation is retried after 5 ms, 10 ms ... as client-go's default
  controller rate limiter does; an update to the workload retries at once); a pod
  whose Secret/ConfigMap is missing stays ContainerCreating until the kubelet's next
  mount retry after it appears; the containers start a component-specific delay later,
  and a container whose Services (named in its env, ConfigMaps or args) have no ready
  endpoints crash-loops with the kubelet's doubling
  back-off until a restart finds them ready (`dependencies` in `timing.yaml`);
- cert-manager Issuers/Certificates become Ready (and write the Secret) once the
  cert-manager controller is ready; Profiles become namespaces once the profiles
  controller is ready; namespaces terminate slowly and take their contents with them;
- NodePort and LoadBalancer Services get nodePorts (30000-32767), and a LoadBalancer
  Service gets status.loadBalancer.ingress from a simulated cloud after a delay: an ELB
  hostname or a TEST-NET IP (`load_balancer` in `timing.yaml`).

Server-side apply keeps one applied configuration per field manager and merges them in
order (lists are atomic: a simplification of the real list-map merge); a field set by
another manager to a different value is a conflict unless `force`.
"""

from __future__ import annotations

import bisect
import fnmatch
import hashlib
import heapq
import itertools
import json
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from installer.simcluster.resources import BUILTIN, ResourceType

TIMING_FILE = Path(__file__).with_name("timing.yaml")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
EVENT_HISTORY = 50_000
# Custom resources whose controllers the simulator plays.
CONTROLLED = {
    ("cert-manager.io", "Certificate"),
    ("cert-manager.io", "Issuer"),
    ("cert-manager.io", "ClusterIssuer"),
    ("kubeflow.org", "Profile"),
}


class ApiFailure(Exception):
    """An API error the server turns into a Kubernetes Status response."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def load_timing(path: Path | None = None) -> dict[str, Any]:
    return yaml.safe_load((path or TIMING_FILE).read_text())


@dataclass
class Stored:
    rtype: ResourceType
    meta: dict[str, Any]
    managers: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    # Controller-owned fields outside status (Endpoints subsets, Secret data written by
    # cert-manager); merged under the managers' configs.
    system: dict[str, Any] = field(default_factory=dict)
    # A Service's allocated nodePorts by "port/protocol": the API server's allocation,
    # shown in spec.ports of every rendered view (lists are atomic in the configs).
    node_ports: dict[str, int] = field(default_factory=dict)
    _view: tuple[str, dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def view(self) -> dict[str, Any]:
        """The rendered object, cached per resourceVersion; callers must not modify it."""
        rv = self.meta.get("resourceVersion", "")
        if self._view is None or self._view[0] != rv or not rv:
            self._view = (rv, self.render())
        return self._view[1]

    def render(self) -> dict[str, Any]:
        # Rendered objects share subtrees with the stored configs (copying ~1 MB CRD
        # schemas on every request made the simulator slower than a real API server);
        # `_merge` never writes into a shared dict, and callers treat results as frozen.
        obj: dict[str, Any] = _clone(self.system)
        for config in self.managers.values():
            _merge(obj, config)
        obj["apiVersion"] = self.rtype.group_version
        obj["kind"] = self.rtype.kind
        meta = obj["metadata"] = dict(obj.get("metadata") or {})
        meta.update(_clone(self.meta))
        meta["managedFields"] = [
            {"manager": name, "operation": "Apply", "apiVersion": self.rtype.group_version}
            for name in self.managers
        ]
        if self.node_ports and isinstance(obj.get("spec"), dict):
            spec = obj["spec"] = dict(obj["spec"])
            spec["ports"] = [
                {**p, "nodePort": self.node_ports[_port_key(p)]}
                if not p.get("nodePort") and _port_key(p) in self.node_ports
                else p
                for p in spec.get("ports") or []
            ]
        if self.status:
            obj["status"] = self.status
        return obj


class RetryQueue:
    """A controller's rate-limited work queue as client-go builds it
    (util/workqueue/default_rate_limiters.go): per key, `base` seconds doubling per
    failure up to `cap` (ItemExponentialFailureRateLimiter), and, when `qps` is set,
    the larger of that and an overall token bucket shared by every key of the
    controller (BucketRateLimiter over golang.org/x/time/rate: `burst` tokens, refilled
    at `qps`). Times are simulated seconds."""

    def __init__(self, figures: dict[str, Any]) -> None:
        self.base = float(figures.get("base", 0.005))
        self.cap = float(figures.get("cap", 1000))
        self.qps = float(figures.get("qps") or 0)
        self.burst = float(figures.get("burst") or 0)
        self.requeue_on_status = bool(figures.get("requeue_on_status", False))
        self.failures: dict[Any, int] = {}
        self.tokens = self.burst
        self.last = 0.0

    def when(self, key: Any, now: float) -> float:
        """The delay before `key` is handed out again (AddRateLimited), counting a failure."""
        n = self.failures.get(key, 0)
        self.failures[key] = n + 1
        delay = min(self.base * 2**n, self.cap)
        if self.qps:
            # rate.Limiter.Reserve: take a token now, wait for the deficit to refill.
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.qps) - 1
            self.last = now
            delay = max(delay, -self.tokens / self.qps if self.tokens < 0 else 0.0)
        return delay

    def forget(self, key: Any) -> None:
        self.failures.pop(key, None)


def _merge(base: dict, overlay: dict) -> None:
    """Merge `overlay` into `base`, copying every dict it writes into (never sharing a
    write) and sharing the overlay's values otherwise."""
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged = dict(base[key])
            _merge(merged, value)
            base[key] = merged
        else:
            base[key] = value


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _leaves(value: Any, prefix: tuple = ()) -> dict[tuple, Any]:
    if isinstance(value, dict) and value:
        out: dict[tuple, Any] = {}
        for key, item in value.items():
            out.update(_leaves(item, prefix + (key,)))
        return out
    return {prefix: value}


def _without(config: dict, path: tuple) -> None:
    node = config
    for key in path[:-1]:
        node = node.get(key)
        if not isinstance(node, dict):
            return
    node.pop(path[-1], None)


def selector_matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against labels; empty matches all."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def parse_label_selector(text: str) -> Callable[[dict[str, str]], bool]:
    """The `labelSelector` query parameter: `a=b,c!=d,e,!f` (set-based `in` not needed)."""
    tests: list[Callable[[dict[str, str]], bool]] = []
    for term in filter(None, (t.strip() for t in (text or "").split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            tests.append(lambda labels, k=k, v=v: labels.get(k) != v)
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            tests.append(lambda labels, k=k, v=v: labels.get(k) == v)
        elif term.startswith("!"):
            tests.append(lambda labels, k=term[1:]: k not in labels)
        else:
            tests.append(lambda labels, k=term: k in labels)
    return lambda labels: all(t(labels) for t in tests)


class ClusterState:
    """All objects plus the timers that play the controllers. Thread-safe (one lock)."""

    def __init__(
        self,
        *,
        timing: dict[str, Any] | None = None,
        clock_scale: float | None = None,
        nodes: list[dict[str, Any]] | None = None,
        load_balancer: dict[str, Any] | None = None,
    ) -> None:
        self.timing = timing or load_timing()
        # How the simulated cloud answers Services of type LoadBalancer: timing.yaml's
        # `load_balancer`, overridden per cluster (the sandbox: hostnames in its region).
        self.load_balancer = {**(self.timing.get("load_balancer") or {}), **(load_balancer or {})}
        self.scale = float(clock_scale if clock_scale is not None else self.timing["clock_scale"])
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[tuple[str, str, str, str], Stored] = {}
        self.rv = 0
        self.events: list[tuple[int, str, ResourceType, str, dict]] = []
        self.first_event_rv = 1
        self.event_rvs: list[int] = []
        # (group, plural) -> {served version: type}; the first entry is the storage version
        self.crds: dict[tuple[str, str], dict[str, ResourceType]] = {}
        # (group, version, plural) -> the warning the API server sends with every request
        # to a CRD version marked `deprecated: true` (apiextensions-apiserver's handler;
        # without a deprecationWarning: "<group>/<version> <Kind> is deprecated").
        self.deprecations: dict[tuple[str, str, str], str] = {}
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.started = time.monotonic()
        self.log: list[tuple[float, str]] = []
        self._builtin = {(r.group, r.plural): r for r in BUILTIN}
        self._pending_workloads: set[tuple] = set()
        # Workload -> (generation, monotonic time its pod was created), for the kubelet's
        # volume-mount retries; workloads waiting in-process for a dependency.
        self._pod_created: dict[tuple, tuple[Any, float]] = {}
        self._waiting: dict[tuple, Any] = {}
        # The workload controllers' work queues: per controller a rate limiter, per key
        # the time (simulated s) its rate-limited retry is handed out.
        self._queues: dict[str, RetryQueue] = {}
        self._retry_at: dict[tuple, float] = {}
        self._job_pods: set[tuple] = set()
        with self.lock:
            for node in nodes or default_nodes():
                self._put_system(self._builtin[("", "nodes")], node)
            for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
                self._put_system(
                    self._builtin[("", "namespaces")],
                    {"metadata": {"name": ns}, "status": {"phase": "Active"}},
                )

    # ---------------------------------------------------------------- time and timers

    def delay(self, sim_seconds: float) -> float:
        return sim_seconds * self.scale

    def after(self, sim_seconds: float, fn: Callable[[], None]) -> None:
        heapq.heappush(
            self.timers, (time.monotonic() + self.delay(sim_seconds), next(self._seq), fn)
        )
        self.changed.notify_all()

    def run_due(self) -> float | None:
        """Run every due timer; return seconds until the next one (None: no timers)."""
        with self.lock:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, fn = heapq.heappop(self.timers)
                fn()
            self._reconcile()
            self._release_waiting()
            return (self.timers[0][0] - time.monotonic()) if self.timers else None

    def note(self, text: str) -> None:
        self.log.append((time.monotonic() - self.started, text))

    # ---------------------------------------------------------------- types

    def resource_types(self) -> list[ResourceType]:
        with self.lock:
            return list(BUILTIN) + [t for vs in self.crds.values() for t in vs.values()]

    def find_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at group/version/plural; objects of a custom type are stored
        (and answered) in its storage version."""
        builtin = self._builtin.get((group, plural))
        if builtin is not None:
            return builtin if builtin.version == version else None
        versions = self.crds.get((group, plural)) or {}
        if version not in versions:
            return None
        return next(iter(versions.values()))

    # ---------------------------------------------------------------- reads

    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        with self.lock:
            stored = self.objects.get(self._key(rtype, namespace, name))
            if stored is None:
                raise _not_found(rtype, name)
            return stored.render()

    def list(
        self, rtype: ResourceType, namespace: str | None, selector: str = ""
    ) -> dict[str, Any]:
        match = parse_label_selector(selector)
        with self.lock:
            items = [
                s.view()
                for (g, p, ns, _), s in sorted(self.objects.items())
                if (g, p) == (rtype.group, rtype.plural)
                and (namespace is None or ns == namespace)
                and match(s.meta.get("labels") or {})
            ]
            return {
                "kind": f"{rtype.kind}List",
                "apiVersion": rtype.group_version,
                "metadata": {"resourceVersion": str(self.rv)},
                "items": items,
            }

    def events_since(
        self, rtype: ResourceType, namespace: str | None, selector: str, since: int
    ) -> list[tuple[int, str, dict]]:
        """Watch events after resourceVersion `since`. Raises ApiFailure 410 if compacted."""
        if since and since < self.first_event_rv - 1:
            raise ApiFailure(
                410, "Expired", f"too old resource version: {since} ({self.first_event_rv})"
            )
        match = parse_label_selector(selector)
        out = []
        start = bisect.bisect_right(self.event_rvs, since)
        for rv, kind, et, ns, obj in self.events[start:]:
            if et is not rtype:
                continue
            if namespace is not None and ns != namespace:
                continue
            if not match(obj.get("metadata", {}).get("labels") or {}):
                continue
            out.append((rv, kind, obj))
        return out

    # ---------------------------------------------------------------- writes

    def apply(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        config: dict[str, Any],
        *,
        manager: str,
        force: bool,
        dry_run: bool,
        create_only: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Server-side apply (or create when `create_only`). Returns (object, created).

        Raises:
            ApiFailure: 400 bad body, 404 namespace missing, 409 conflict or exists,
                422 invalid, 500 webhook not serving, 403 namespace terminating.
        """
        with self.lock:
            self._validate(rtype, namespace, name, config)
            key = self._key(rtype, namespace, name)
            stored = self.objects.get(key)
            if create_only and stored is not None:
                raise ApiFailure(
                    409,
                    "AlreadyExists",
                    f'{rtype.plural}.{rtype.group or "core"} "{name}" already exists'.replace(
                        ".core", ""
                    ),
                )
            self._admit(rtype, namespace, config, "UPDATE" if stored else "CREATE")
            config = dict(config)  # parsed from the request: ours to change
            config.pop("status", None)
            meta = config["metadata"] = dict(config.get("metadata") or {})
            for drop in ("resourceVersion", "uid", "managedFields", "creationTimestamp"):
                meta.pop(drop, None)
            if stored is None:
                stored = Stored(rtype, {"name": name})
                if rtype.namespaced:
                    stored.meta["namespace"] = namespace
                created = True
            else:
                if stored.meta.get("deletionTimestamp"):
                    raise ApiFailure(
                        409, "Conflict", f'{rtype.kind} "{name}" is being deleted, retry later'
                    )
                stored = Stored(
                    rtype,
                    _clone(stored.meta),
                    dict(stored.managers),
                    stored.status,
                    stored.system,
                    dict(stored.node_ports),
                )
                created = False
            self._check_conflicts(stored, manager, config, force)
            before = stored.render()
            stored.managers[manager] = config
            stored.managers = dict(
                sorted(stored.managers.items(), key=lambda kv: kv[0] == manager)
            )
            if rtype.kind == "Service":
                self._allocate_node_ports(key, stored)
            after = stored.render()
            _validate_merged(rtype, name, after)
            stored.meta["labels"] = after["metadata"].get("labels") or {}
            stored.meta["annotations"] = after["metadata"].get("annotations") or {}
            for k in ("labels", "annotations"):
                if not stored.meta[k]:
                    stored.meta.pop(k)
            spec_changed = _spec(before) != _spec(after)
            if created:
                stored.meta.update(
                    uid=str(uuid.uuid4()),
                    creationTimestamp=_now(),
                    generation=1,
                )
            elif spec_changed:
                stored.meta["generation"] = stored.meta.get("generation", 1) + 1
            if dry_run:
                return stored.render(), created
            if created or before != after:
                self._store(key, stored, "ADDED" if created else "MODIFIED")
                template_changed = (before.get("spec") or {}).get("template") != (
                    after.get("spec") or {}
                ).get("template")
                self._on_write(stored, created, spec_changed, template_changed)
            return self.objects[key].render(), created

    def delete(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        """Delete an object; a namespace goes Terminating and disappears later.

        Raises:
            ApiFailure: 404 when absent.
        """
        with self.lock:
            key = self._key(rtype, namespace, name)
            stored = self.objects.get(key)
            if stored is None:
                raise _not_found(rtype, name)
            if rtype.kind == "Namespace":
                if not stored.meta.get("deletionTimestamp"):
                    stored.meta["deletionTimestamp"] = _now()
                    stored.status = {"phase": "Terminating"}
                    self._bump(key, "MODIFIED")
                    self.after(self.timing["namespace_termination"], lambda: self._finish_ns(name))
                return stored.render()
            obj = stored.render()
            self._remove(key)
            return obj

    def _finish_ns(self, name: str) -> None:
        for key in [k for k in self.objects if k[2] == name]:
            self._remove(key)
        ns_key = ("", "namespaces", "", name)
        if ns_key in self.objects:
            self._remove(ns_key)
        self.note(f"namespace {name} terminated")

    # ---------------------------------------------------------------- internals

    def _key(self, rtype: ResourceType, namespace: str, name: str) -> tuple[str, str, str, str]:
        return (rtype.group, rtype.plural, namespace if rtype.namespaced else "", name)

    def _store(self, key: tuple, stored: Stored, kind: str) -> None:
        self.objects[key] = stored
        self._bump(key, kind)

    def _bump(self, key: tuple, kind: str) -> None:
        stored = self.objects[key]
        self.rv += 1
        stored.meta["resourceVersion"] = str(self.rv)
        self._record(kind, stored.rtype, key[2], stored.view())
        self.changed.notify_all()

    def _record(self, kind: str, rtype: ResourceType, namespace: str, obj: dict) -> None:
        self.events.append((self.rv, kind, rtype, namespace, obj))
        self.event_rvs.append(self.rv)
        if len(self.events) > EVENT_HISTORY:
            drop = len(self.events) - EVENT_HISTORY
            self.first_event_rv = self.events[drop][0]
            del self.events[:drop]
            del self.event_rvs[:drop]

    def _remove(self, key: tuple) -> None:
        stored = self.objects.pop(key)
        self.rv += 1
        obj = stored.render()
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._record("DELETED", stored.rtype, key[2], obj)
        if stored.rtype.kind == "CustomResourceDefinition":
            spec = obj.get("spec", {})
            gp = (spec.get("group"), spec.get("names", {}).get("plural"))
            self.crds.pop(gp, None)
            for dkey in [d for d in self.deprecations if (d[0], d[2]) == gp]:
                self.deprecations.pop(dkey)
            for okey in [k for k in self.objects if k[:2] == gp]:
                self.objects.pop(okey, None)
        self.changed.notify_all()

    def _put_system(self, rtype: ResourceType, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = self._key(rtype, meta.get("namespace", ""), meta["name"])
        stored = Stored(rtype, {"name": meta["name"], "uid": str(uuid.uuid4())})
        if rtype.namespaced:
            stored.meta["namespace"] = meta["namespace"]
        if meta.get("labels"):
            stored.meta["labels"] = dict(meta["labels"])
        if meta.get("ownerReferences"):
            stored.meta["ownerReferences"] = meta["ownerReferences"]
        body = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
        stored.system = body
        stored.status = obj.get("status", {})
        self._store(key, stored, "ADDED")

    def _validate(self, rtype: ResourceType, namespace: str, name: str, config: dict) -> None:
        meta = config.get("metadata") or {}
        if meta.get("name") not in (None, name):
            raise ApiFailure(400, "BadRequest", "the name of the object does not match the URL")
        if not _dns_name(name):
            raise ApiFailure(
                422,
                "Invalid",
                f'{rtype.kind} "{name}" is invalid: metadata.name: Invalid value: "{name}": '
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.'",
            )
        if rtype.namespaced:
            ns = self.objects.get(("", "namespaces", "", namespace))
            if ns is None:
                raise ApiFailure(404, "NotFound", f'namespaces "{namespace}" not found')
            if ns.meta.get("deletionTimestamp"):
                raise ApiFailure(
                    403,
                    "Forbidden",
                    f'{rtype.plural} "{name}" is forbidden: unable to create new content in '
                    f"namespace {namespace} because it is being terminated",
                )

    def _check_conflicts(self, stored: Stored, manager: str, config: dict, force: bool) -> None:
        mine = {p: v for p, v in _leaves(config).items() if p[:1] != ("metadata",) or len(p) > 2}
        conflicts = []
        for other, theirs in stored.managers.items():
            if other == manager:
                continue
            for path, value in _leaves(theirs).items():
                if path in mine and mine[path] != value:
                    conflicts.append((other, path))
        if not conflicts:
            return
        if force:
            for other, path in conflicts:
                stored.managers[other] = _clone(stored.managers[other])
                _without(stored.managers[other], path)
            return
        lines = [f'conflict with "{o}": .{".".join(map(str, p))}' for o, p in conflicts]
        raise ApiFailure(
            409,
            "Conflict",
            f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: "
            + "\n".join(lines),
        )

    # ------------------------------------------------------------ admission webhooks

    def _admit(self, rtype: ResourceType, namespace: str, config: dict, op: str) -> None:
        for hook, service in self.intercepting_webhooks(rtype, namespace, config, op):
            self._call_webhook(hook, service)

    def intercepting_webhooks(
        self, rtype: ResourceType, namespace: str, config: dict, op: str
    ) -> list[tuple[str, dict]]:
        """(webhook name, service reference) of every failurePolicy Fail webhook that
        intercepts this request: the admission rule, shared with the critical-path bound
        of scripts/bench_engine.py."""
        out: list[tuple[str, dict]] = []
        ns_labels = {}
        if rtype.kind == "Namespace":
            ns_labels = (config.get("metadata") or {}).get("labels") or {}
        elif rtype.namespaced:
            ns_obj = self.objects.get(("", "namespaces", "", namespace))
            ns_labels = dict((ns_obj.meta.get("labels") or {}) if ns_obj else {})
            ns_labels.setdefault("kubernetes.io/metadata.name", namespace)
        obj_labels = (config.get("metadata") or {}).get("labels") or {}
        for group, plural in (
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ):
            for (g, p, _, _), stored in list(self.objects.items()):
                if (g, p) != (group, plural):
                    continue
                for hook in stored.view().get("webhooks") or []:
                    if hook.get("failurePolicy", "Fail") == "Ignore":
                        continue
                    if not _rule_matches(hook.get("rules") or [], rtype, op):
                        continue
                    if (rtype.namespaced or rtype.kind == "Namespace") and not selector_matches(
                        hook.get("namespaceSelector"), ns_labels
                    ):
                        continue
                    if not selector_matches(hook.get("objectSelector"), obj_labels):
                        continue
                    service = (hook.get("clientConfig") or {}).get("service")
                    if service:
                        out.append((hook["name"], service))
        return out

    def _call_webhook(self, hook: str, service: dict) -> None:
        ns, name = service.get("namespace", "default"), service["name"]
        path, port = service.get("path", "/"), service.get("port", 443)
        url = f"https://{name}.{ns}.svc:{port}{path}?timeout=10s"
        prefix = (
            f'Internal error occurred: failed calling webhook "{hook}": '
            f'failed to call webhook: Post "{url}"'
        )
        if ("", "services", ns, name) not in self.objects:
            raise ApiFailure(500, "InternalError", f'{prefix}: service "{name}" not found')
        endpoints = self.objects.get(("", "endpoints", ns, name))
        ready = endpoints and any(
            s.get("addresses") for s in endpoints.view().get("subsets") or []
        )
        if not ready:
            raise ApiFailure(
                500, "InternalError", f'{prefix}: no endpoints available for service "{name}"'
            )

    # ------------------------------------------------------------ controllers

    def _on_write(
        self, stored: Stored, created: bool, spec_changed: bool, template_changed: bool = False
    ) -> None:
        kind = stored.rtype.kind
        key = self._key(stored.rtype, stored.meta.get("namespace", ""), stored.meta["name"])
        if kind in WORKLOAD_KINDS or kind == "Job":
            # An update event enqueues the key without delay (the controllers' update
            # handlers call queue.Add): it bypasses a pending back-off but does not reset
            # the failure count, which only Forget after a successful sync does. A
            # Deployment whose pod template changed gets a new ReplicaSet: a new key.
            self._retry_at.pop(key, None)
            if created or (kind == "Deployment" and template_changed):
                self._queue(stored).forget(key)
        if kind == "Namespace" and created:
            stored.status = {"phase": "Active"}
            self._bump(key, "MODIFIED")
        elif kind == "CustomResourceDefinition" and (created or spec_changed):
            self.after(self.timing["crd_established"], lambda: self._establish(key))
        elif kind in WORKLOAD_KINDS and spec_changed:
            stored.status = {"observedGeneration": stored.meta["generation"], "replicas": 0}
            self._bump(key, "MODIFIED")
            self._pending_workloads.add(key)
            self._refresh_endpoints(key[2])
        elif kind == "Job" and created:
            self._pending_workloads.add(key)
        elif kind == "Service":
            self._service_controller(key, stored)
            self._refresh_endpoints(key[2])
        elif (stored.rtype.group, kind) in CONTROLLED:
            self._pending_workloads.add(key)

    def _establish(self, key: tuple) -> None:
        stored = self.objects.get(key)
        if stored is None:
            return
        spec = stored.render().get("spec", {})
        versions = [v["name"] for v in spec.get("versions", []) if v.get("served", True)]
        storage = next(
            (v["name"] for v in spec.get("versions", []) if v.get("storage")), versions[0]
        )
        names = spec.get("names", {})
        ordered = [storage] + [v for v in versions if v != storage]
        self.crds[(spec["group"], names["plural"])] = {
            v: ResourceType(
                spec["group"],
                v,
                names["plural"],
                names["kind"],
                spec.get("scope", "Namespaced") == "Namespaced",
                ("status",),
            )
            for v in ordered
        }
        for entry in spec.get("versions", []):
            dkey = (spec["group"], entry["name"], names["plural"])
            if entry.get("deprecated") and entry.get("served", True):
                self.deprecations[dkey] = entry.get("deprecationWarning") or (
                    f"{spec['group']}/{entry['name']} {names['kind']} is deprecated"
                )
            else:
                self.deprecations.pop(dkey, None)
        stored.status = {
            "acceptedNames": names,
            "storedVersions": [storage],
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"},
            ],
        }
        self._bump(key, "MODIFIED")
        self.note(f"crd {key[3]} established")

    def _reconcile(self) -> None:
        """Start the clocks of whatever became able to progress."""
        for key in sorted(self._pending_workloads):
            stored = self.objects.get(key)
            if stored is None:
                self._pending_workloads.discard(key)
                continue
            kind = stored.rtype.kind
            start = None
            if kind in WORKLOAD_KINDS:
                start = self._pod_progress(key, stored)
            elif kind == "Job":
                if key in self._job_pods or self._create_pod(key, stored):
                    self._job_pods.add(key)
                    if self._pod_volumes_present(stored):
                        self._job_pods.discard(key)
                        start = (self.timing["job_run"], self._job_done)
            elif kind in ("Issuer", "ClusterIssuer"):
                if self._ready("cert-manager", "cert-manager"):
                    start = (self.timing["issuer_ready"], self._issuer_ready)
            elif kind == "Certificate":
                if self._ready("cert-manager", "cert-manager") and self._issuer_exists(stored):
                    start = (self.timing["certificate_issue"], self._certificate_ready)
            elif kind == "Profile":
                if self._ready("kubeflow", "profiles-deployment"):
                    start = (self.timing["profile_reconcile"], self._profile_ready)
            if start is not None:
                self._pending_workloads.discard(key)
                self._pod_created.pop(key, None)
                delay, fn = start
                generation = stored.meta.get("generation")
                self.after(delay, lambda k=key, g=generation, f=fn: f(k, g))

    def _ready(self, namespace: str, name: str) -> bool:
        stored = self.objects.get(("apps", "deployments", namespace, name))
        if stored is None:
            return False
        status = stored.status
        return status.get("observedGeneration") == stored.meta.get("generation") and bool(
            status.get("availableReplicas")
        )

    def _create_pod(self, key: tuple, stored: Stored) -> bool:
        """One sync of the workload's controller, if its work queue hands the key out
        now: True when the pod is created. A rejected creation is requeued with the
        controller's rate limiter (`controller_retry` in timing.yaml), so the pod appears
        at the first retry after the cause clears, not at once."""
        if self._retry_at.get(key, 0.0) > self._sim_now():
            return False
        error = self.pod_creation_error(stored)
        if error is None:
            self._queue(stored).forget(key)
            self._retry_at.pop(key, None)
            return True
        queue = self._queue(stored)
        first = queue.failures.get(key, 0) == 0
        delay = queue.when(key, self._sim_now())
        if first and queue.requeue_on_status:
            # The failed sync writes status (ReplicaFailure condition, observedGeneration);
            # the controller's own update handler re-adds the key at once, that sync fails
            # too and is rate-limited again; the work queue keeps the earlier ready time.
            delay = min(delay, queue.when(key, self._sim_now()))
        self._retry_at[key] = self._sim_now() + delay
        self.after(delay, lambda: None)  # wake the reconcile loop for the retry
        self.note(f"{key[2]}/{key[3]} pod creation failed ({error}), retry in {delay:.3f}")
        return False

    def _queue(self, stored: Stored) -> RetryQueue:
        kind = stored.rtype.kind
        name = {"Deployment": "replicaset"}.get(kind, kind.lower())
        if name not in self._queues:
            self._queues[name] = RetryQueue(
                (self.timing.get("controller_retry") or {}).get(name) or {}
            )
        return self._queues[name]

    def _sim_now(self) -> float:
        return (time.monotonic() - self.started) / self.scale if self.scale else 0.0

    def pod_creation_error(self, stored: Stored) -> str | None:
        """Why the workload controller's pod creation is rejected now (None: it is not):
        a missing ServiceAccount, or a Fail admission webhook that is not serving."""
        ns = stored.meta.get("namespace", "")
        pod = stored.view().get("spec", {}).get("template", {}).get("spec", {})
        provided = self.timing.get("provided", {})
        sa = pod.get("serviceAccountName") or pod.get("serviceAccount")
        if sa and sa not in provided.get("serviceaccounts", []):
            if ("", "serviceaccounts", ns, sa) not in self.objects:
                return f'serviceaccount "{sa}" not found'
        # The ReplicaSet controller's pod creation passes admission too: with Istio's
        # sidecar injector (failurePolicy Fail) down, pods in injected namespaces are
        # not created at all.
        template = stored.view().get("spec", {}).get("template", {})
        try:
            self._admit(self._builtin[("", "pods")], ns, template, "CREATE")
        except ApiFailure as failure:
            return failure.message
        return None

    def _pod_volumes_present(self, stored: Stored) -> bool:
        ns = stored.meta.get("namespace", "")
        pod = stored.view().get("spec", {}).get("template", {}).get("spec", {})
        provided = self.timing.get("provided", {})
        for plural, name in _pod_refs(pod):
            if name in provided.get(plural, []):
                continue
            if ("", plural, ns, name) not in self.objects:
                return False
        return True

    def _pod_progress(self, key: tuple, stored: Stored) -> tuple | None:
        """The next step of a workload's pod: None while it cannot be created or is
        ContainerCreating between volume-mount retries; else (delay, fn) for its first
        container start."""
        rules = self.timing.get("dependencies") or {}
        generation = stored.meta.get("generation")
        created = self._pod_created.get(key)
        if created is None or created[0] != generation:
            if not self._create_pod(key, stored):
                return None
            created = self._pod_created[key] = (generation, time.monotonic())
            self.note(f"{key[2]}/{key[3]} pod created")
            mount_wait = 0.0
        else:
            waited = (time.monotonic() - created[1]) / self.scale if self.scale else 0.0
            mount_wait = _next_retry(waited, rules.get("volume_retry")) - waited
        if not self._pod_volumes_present(stored):
            return None
        first = max(self._workload_delay(stored) - rules.get("restart_ready", 0), 0.0)
        return (mount_wait + first, lambda k, g: self._container_start(k, g, 0))

    def _container_start(self, key: tuple, generation: Any, attempt: int) -> None:
        """A container (re)start: Ready soon if its dependencies answer; otherwise it
        crashes and the kubelet restarts it with doubling back-off, or (for clients
        that retry in-process) it waits, not Ready, until they answer."""
        stored = self.objects.get(key)
        if stored is None or stored.meta.get("generation") != generation:
            return
        rules = self.timing.get("dependencies") or {}
        self.note(f"{key[2]}/{key[3]} container start #{attempt}")
        missing = self._unmet_dependencies(stored)
        if not missing:
            self.after(
                rules.get("restart_ready", 0),
                lambda: self._workload_ready(key, generation),
            )
            return
        if self._waits_in_process(stored):
            self._waiting[key] = generation
            self.note(f"{key[2]}/{key[3]} waiting for {', '.join(missing)}")
            return
        backoff = rules.get("restart_backoff") or {}
        pause = min(backoff.get("initial", 10) * 2**attempt, backoff.get("cap", 300))
        self.note(f"{key[2]}/{key[3]} CrashLoopBackOff ({', '.join(missing)}), restart in {pause}")
        self.after(
            rules.get("crash_after", 0) + pause,
            lambda: self._container_start(key, generation, attempt + 1),
        )

    def _release_waiting(self) -> None:
        for key, generation in list(self._waiting.items()):
            stored = self.objects.get(key)
            if stored is None or stored.meta.get("generation") != generation:
                del self._waiting[key]
            elif not self._unmet_dependencies(stored):
                del self._waiting[key]
                self._container_start(key, generation, 0)

    def _waits_in_process(self, stored: Stored) -> bool:
        pod = stored.view().get("spec", {}).get("template", {}).get("spec", {})
        images = [c.get("image", "") for c in pod.get("containers") or []]
        for rule in (self.timing.get("dependencies") or {}).get("wait_in_process") or []:
            if any(fnmatch.fnmatch(i, rule.get("image", "*")) for i in images):
                return True
        return False

    def _unmet_dependencies(self, stored: Stored) -> list[str]:
        """The Services (as ns/name) this workload needs at start that have no ready
        endpoints; see `dependencies` in timing.yaml for how they are found."""
        missing = []
        for sns, sname in self.needed_services(stored):
            endpoints = self.objects.get(("", "endpoints", sns, sname))
            if not (
                endpoints
                and any(s.get("addresses") for s in endpoints.view().get("subsets") or [])
            ):
                missing.append(f"{sns}/{sname}")
        return missing

    def needed_services(self, stored: Stored) -> list[tuple[str, str]]:
        """The Services (ns, name) a workload's containers need answering at start, read
        from its pod template and the ConfigMaps stored now (`dependencies` in
        timing.yaml); not those always provided nor those served by its own pods."""
        rules = self.timing.get("dependencies") or {}
        ns, name = stored.meta.get("namespace", ""), stored.meta["name"]
        for rule in rules.get("lazy") or []:
            if fnmatch.fnmatch(name, rule.get("name", "*")):
                return []
        template = stored.view().get("spec", {}).get("template", {})
        own_labels = (template.get("metadata") or {}).get("labels") or {}
        wanted: set[tuple[str, str]] = set()
        for rule in rules.get("implicit") or []:
            if fnmatch.fnmatch(name, rule.get("name", "")):
                wanted.add((rule.get("namespace", ns), rule["service"]))
        host_env = re.compile(rules.get("host_env") or "$^")
        for var, text in self._config_strings(ns, template.get("spec") or {}):
            wanted.update(self._service_refs(ns, var, text, host_env))
        needed = []
        always = set((self.timing.get("provided") or {}).get("services") or [])
        for sns, sname in sorted(wanted):
            if f"{sns}/{sname}" in always:
                continue
            svc = self.objects.get(("", "services", sns, sname))
            if svc is not None:
                selector = svc.view().get("spec", {}).get("selector") or {}
                if (
                    sns == ns
                    and selector
                    and all(own_labels.get(k) == v for k, v in selector.items())
                ):
                    continue  # served by this workload itself
            needed.append((sns, sname))
        return needed

    def _config_strings(self, ns: str, pod: dict) -> list[tuple[str, str]]:
        """(variable, value) for every env value, ConfigMap-sourced env value and arg."""
        out: list[tuple[str, str]] = []

        def configmap(name: str) -> dict:
            cm = self.objects.get(("", "configmaps", ns, name))
            return (cm.view().get("data") or {}) if cm else {}

        for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
            for env in c.get("env") or []:
                if "value" in env:
                    out.append((env.get("name", ""), str(env["value"])))
                ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
                if ref:
                    value = configmap(ref.get("name", "")).get(ref.get("key", ""))
                    if value is not None:
                        out.append((env.get("name", ""), str(value)))
            for env in c.get("envFrom") or []:
                ref = env.get("configMapRef")
                if ref:
                    prefix = env.get("prefix", "")
                    for k, v in configmap(ref.get("name", "")).items():
                        out.append((prefix + k, str(v)))
            for arg in (c.get("command") or []) + (c.get("args") or []):
                out.append(("", str(arg)))
        return out

    def _service_refs(
        self, ns: str, var: str, text: str, host_env: re.Pattern
    ) -> set[tuple[str, str]]:
        refs = set()
        for m in _HOST_RE.finditer(text):
            scheme, name, sns, svc, port = m.groups()
            if svc:  # name.ns.svc[.cluster.local]: unambiguous, needed even if absent
                refs.add((sns, name))
            elif sns:
                if ("", "services", sns, name) in self.objects:
                    refs.add((sns, name))
            elif scheme or port or (host_env.search(var) and text.strip() == name):
                if ("", "services", ns, name) in self.objects:
                    refs.add((ns, name))
        return refs

    def _workload_delay(self, stored: Stored) -> float:
        ns, name = stored.meta.get("namespace", ""), stored.meta["name"]
        for rule in self.timing["workloads"]:
            if fnmatch.fnmatch(ns, rule.get("namespace", "*")) and fnmatch.fnmatch(
                name, rule.get("name", "*")
            ):
                return float(rule["seconds"])
        return 20.0

    def _workload_ready(self, key: tuple, generation: int) -> None:
        stored = self.objects.get(key)
        if stored is None or stored.meta.get("generation") != generation:
            return
        spec = stored.view().get("spec", {})
        kind = stored.rtype.kind
        if kind == "DaemonSet":
            n = self._schedulable_nodes(spec)
            stored.status = {
                "observedGeneration": generation,
                "desiredNumberScheduled": n,
                "currentNumberScheduled": n,
                "updatedNumberScheduled": n,
                "numberReady": n,
                "numberAvailable": n,
            }
        else:
            n = int(spec.get("replicas", 1))
            stored.status = {
                "observedGeneration": generation,
                "replicas": n,
                "readyReplicas": n,
                "updatedReplicas": n,
                "availableReplicas": n,
            }
            if kind == "Deployment":
                stored.status["conditions"] = [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ]
            else:
                stored.status.update(currentReplicas=n, currentRevision="r1", updateRevision="r1")
        self._bump(key, "MODIFIED")
        self.note(f"{kind.lower()} {key[2]}/{key[3]} ready")
        self.after(self.timing["endpoints_delay"], lambda: self._refresh_endpoints(key[2]))

    def _schedulable_nodes(self, spec: dict) -> int:
        pod = spec.get("template", {}).get("spec", {})
        wanted = pod.get("nodeSelector") or {}
        count = 0
        for (g, p, _, _), node in self.objects.items():
            if (g, p) == ("", "nodes"):
                labels = node.meta.get("labels") or {}
                if all(labels.get(k) == v for k, v in wanted.items()):
                    count += 1
        return count

    def _job_done(self, key: tuple, generation: int) -> None:
        stored = self.objects.get(key)
        if stored is None:
            return
        stored.status = {
            "succeeded": 1,
            "conditions": [{"type": "Complete", "status": "True"}],
        }
        self._bump(key, "MODIFIED")

    def _refresh_endpoints(self, namespace: str) -> None:
        workloads = [
            s
            for (g, p, ns, _), s in self.objects.items()
            if ns == namespace and g == "apps" and s.rtype.kind in ("Deployment", "StatefulSet")
        ]
        for (g, p, ns, name), svc in list(self.objects.items()):
            if (g, p, ns) != ("", "services", namespace):
                continue
            selector = svc.view().get("spec", {}).get("selector") or {}
            if not selector:
                continue
            ready = False
            for w in workloads:
                labels = (
                    w.view().get("spec", {}).get("template", {}).get("metadata", {}) or {}
                ).get("labels") or {}
                if all(labels.get(k) == v for k, v in selector.items()) and w.status.get(
                    "readyReplicas"
                ):
                    ready = True
            ports = [
                {"name": p.get("name", ""), "port": p.get("targetPort", p.get("port"))}
                for p in svc.view().get("spec", {}).get("ports") or []
            ]
            subsets = [{"addresses": [{"ip": "10.244.0.10"}], "ports": ports}] if ready else []
            ekey = ("", "endpoints", namespace, name)
            current = self.objects.get(ekey)
            if current is not None and current.system.get("subsets") == subsets:
                continue
            self._put_system(
                self._builtin[("", "endpoints")],
                {"metadata": {"name": name, "namespace": namespace}, "subsets": subsets},
            )
            # The EndpointSlice controller mirrors the same state in the newer API (the one
            # clients should read since v1.33 deprecated Endpoints): one IPv4 slice per
            # Service, named <service>-<suffix>, found by its service-name label.
            self._put_system(
                self._builtin[("discovery.k8s.io", "endpointslices")],
                {
                    "metadata": {
                        "name": f"{name}-{zlib.crc32(name.encode()) % 100000:05d}"[:63],
                        "namespace": namespace,
                        "labels": {
                            "kubernetes.io/service-name": name,
                            "endpointslice.kubernetes.io/managed-by": (
                                "endpointslice-controller.k8s.io"
                            ),
                        },
                    },
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": ["10.244.0.10"], "conditions": {"ready": True}}]
                    if ready
                    else [],
                    "ports": [{"name": p["name"], "port": p["port"]} for p in ports],
                },
            )

    # ------------------------------------------------------------ Services

    def _allocate_node_ports(self, key: tuple, stored: Stored) -> None:
        """The API server's nodePort allocation: every port of a NodePort or LoadBalancer
        Service without one gets a free port of 30000-32767 (--service-node-port-range),
        kept across updates; a ClusterIP Service has none."""
        allocated, stored.node_ports = stored.node_ports, {}
        spec = stored.render().get("spec") or {}  # as applied, without the allocation
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            return
        ports = spec.get("ports") or []
        wanted = {_port_key(p) for p in ports if not p.get("nodePort")}
        kept = {k: v for k, v in allocated.items() if k in wanted}
        used = set(kept.values())
        for okey, other in self.objects.items():
            if okey[:2] == ("", "services") and okey != key:
                used.update(other.node_ports.values())
                used.update(
                    p["nodePort"]
                    for p in (other.view().get("spec") or {}).get("ports") or []
                    if p.get("nodePort")
                )
        used.update(p["nodePort"] for p in ports if p.get("nodePort"))
        free = (n for n in range(30000, 32768) if n not in used)
        for port_key in sorted(wanted - kept.keys()):
            # The real allocator picks at random; the lowest free port keeps runs
            # reproducible, and nothing should depend on which port it is.
            kept[port_key] = next(free)
        stored.node_ports = kept

    def _service_controller(self, key: tuple, stored: Stored) -> None:
        """The cloud's service controller: a LoadBalancer Service gets
        status.loadBalancer.ingress `load_balancer.seconds` after it appears (never when
        `address` is none, as on a cluster with no load-balancer controller); a Service
        no longer of that type loses it."""
        kind = (stored.view().get("spec") or {}).get("type")
        balanced = (stored.status.get("loadBalancer") or {}).get("ingress")
        if kind != "LoadBalancer":
            if "loadBalancer" in stored.status:
                stored.status = {}
                self._bump(key, "MODIFIED")
            return
        if balanced or "loadBalancer" in stored.status:
            return  # served, or the cloud is already creating it
        stored.status = {"loadBalancer": {}}
        self._bump(key, "MODIFIED")
        if self.load_balancer.get("address", "hostname") == "none":
            return
        uid = stored.meta.get("uid", "")
        seconds = float(self.load_balancer.get("seconds", 60))
        self.after(seconds, lambda: self._load_balancer_ready(key, uid))

    def _load_balancer_ready(self, key: tuple, uid: str) -> None:
        stored = self.objects.get(key)
        if stored is None or stored.meta.get("uid") != uid:
            return
        if (stored.view().get("spec") or {}).get("type") != "LoadBalancer":
            return
        ingress = self._load_balancer_address(stored)
        stored.status = {"loadBalancer": {"ingress": [ingress]}}
        self._bump(key, "MODIFIED")
        self.note(f"service {key[2]}/{key[3]} load balancer {next(iter(ingress.values()))}")

    def _load_balancer_address(self, stored: Stored) -> dict[str, str]:
        """An address shaped like the cloud's: EKS's in-tree controller names a classic
        ELB "a" + the Service UID without dashes, cut to 32 characters, and AWS answers
        with `<name>-<digits>.<region>.elb.amazonaws.com`; GKE and AKS give an IP, here
        from TEST-NET-1 (192.0.2.0/24, RFC 5737), which routes nowhere."""
        uid = stored.meta.get("uid", "")
        if self.load_balancer.get("address", "hostname") == "hostname":
            name = ("a" + uid.replace("-", ""))[:32]
            digits = int(hashlib.sha256(uid.encode()).hexdigest(), 16) % 10**10
            region = self.load_balancer.get("region") or "us-west-2"
            return {"hostname": f"{name}-{digits}.{region}.elb.amazonaws.com"}
        taken = {
            ing.get("ip")
            for (g, p, _, _), s in self.objects.items()
            if (g, p) == ("", "services")
            for ing in (s.status.get("loadBalancer") or {}).get("ingress") or []
        }
        host = next(
            n for n in itertools.chain(range(10, 255), range(1, 10)) if f"192.0.2.{n}" not in taken
        )
        return {"ip": f"192.0.2.{host}"}

    def _issuer_exists(self, stored: Stored) -> bool:
        ref = stored.view().get("spec", {}).get("issuerRef", {})
        kind = ref.get("kind", "Issuer")
        ns = "" if kind == "ClusterIssuer" else stored.meta.get("namespace", "")
        plural = "clusterissuers" if kind == "ClusterIssuer" else "issuers"
        return ("cert-manager.io", plural, ns, ref.get("name")) in self.objects

    def _condition_ready(self, key: tuple) -> None:
        stored = self.objects.get(key)
        if stored is None:
            return
        stored.status = {
            "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}],
            "observedGeneration": stored.meta.get("generation"),
        }
        self._bump(key, "MODIFIED")

    def _issuer_ready(self, key: tuple, generation: int) -> None:
        self._condition_ready(key)

    def _certificate_ready(self, key: tuple, generation: int) -> None:
        stored = self.objects.get(key)
        if stored is None:
            return
        spec = stored.render().get("spec", {})
        ns = key[2]
        if spec.get("secretName"):
            self._put_system(
                self._builtin[("", "secrets")],
                {
                    "metadata": {"name": spec["secretName"], "namespace": ns},
                    "type": "kubernetes.io/tls",
                    "data": {"tls.crt": "c2ltdWxhdGVk", "tls.key": "c2ltdWxhdGVk"},
                },
            )
        self._condition_ready(key)
        self.note(f"certificate {ns}/{key[3]} ready")

    def _profile_ready(self, key: tuple, generation: int) -> None:
        stored = self.objects.get(key)
        if stored is None:
            return
        name = key[3]
        if ("", "namespaces", "", name) not in self.objects:
            self._put_system(
                self._builtin[("", "namespaces")],
                {
                    "metadata": {
                        "name": name,
                        "labels": {
                            "app.kubernetes.io/part-of": "kubeflow-profile",
                            "istio-injection": "enabled",
                        },
                        "ownerReferences": [
                            {"apiVersion": "kubeflow.org/v1", "kind": "Profile", "name": name}
                        ],
                    },
                    "status": {"phase": "Active"},
                },
            )
        self._condition_ready(key)
        self.note(f"profile {name} reconciled")

    # ------------------------------------------------------------ persistence

    def dump(self) -> dict[str, Any]:
        with self.lock:
            return {
                "rv": self.rv,
                "objects": [
                    {
                        "type": [s.rtype.group, s.rtype.version, s.rtype.plural],
                        "kind": s.rtype.kind,
                        "namespaced": s.rtype.namespaced,
                        "meta": s.meta,
                        "managers": s.managers,
                        "status": s.status,
                        "system": s.system,
                        "node_ports": s.node_ports,
                    }
                    for s in self.objects.values()
                ],
                "pending": [list(k) for k in self._pending_workloads],
            }

    def save(self, path: Path) -> None:
        tmp = Path(str(path) + ".tmp")
        tmp.write_text(json.dumps(self.dump()))
        tmp.replace(path)

    def load(self, path: Path) -> None:
        """Restore a saved state; timers that were running restart from the beginning."""
        data = json.loads(Path(path).read_text())
        with self.lock:
            self.objects.clear()
            self.rv = data["rv"]
            self.first_event_rv = self.rv + 1
            for item in data["objects"]:
                group, version, plural = item["type"]
                rtype = self._builtin.get((group, plural)) or ResourceType(
                    group, version, plural, item["kind"], item["namespaced"], ("status",)
                )
                stored = Stored(rtype, item["meta"], item["managers"], item["status"])
                stored.system = item["system"]
                stored.node_ports = dict(item.get("node_ports") or {})
                self.objects[
                    self._key(rtype, item["meta"].get("namespace", ""), item["meta"]["name"])
                ] = stored
            for key, stored in list(self.objects.items()):
                kind = stored.rtype.kind
                if kind == "CustomResourceDefinition" and stored.status:
                    self._establish(key)
                elif kind == "Service" and "loadBalancer" in stored.status:
                    if not stored.status["loadBalancer"].get("ingress"):
                        stored.status = {}  # the cloud's creation restarts with the timers
                        self._service_controller(key, stored)
                elif (
                    kind in WORKLOAD_KINDS
                    and not stored.status.get("availableReplicas")
                    and not stored.status.get("numberReady")
                ):
                    self._pending_workloads.add(key)
            self._pending_workloads.update(tuple(k) for k in data.get("pending", []))


def _validate_merged(rtype: ResourceType, name: str, obj: dict) -> None:
    if rtype.kind in WORKLOAD_KINDS:
        containers = obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
        if not containers:
            raise ApiFailure(
                422,
                "Invalid",
                f'{rtype.kind}.apps "{name}" is invalid: spec.template.spec.containers: '
                "Required value",
            )


def _port_key(port: dict) -> str:
    return f"{port.get('port')}/{port.get('protocol') or 'TCP'}"


def _spec(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _dns_name(name: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9]([-a-z0-9.:]*[a-z0-9])?", name or "")) and len(name) <= 253


def _not_found(rtype: ResourceType, name: str) -> ApiFailure:
    what = f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural
    return ApiFailure(
        404,
        "NotFound",
        f'{what} "{name}" not found',
        {"name": name, "group": rtype.group, "kind": rtype.plural},
    )


def _rule_matches(rules: list[dict], rtype: ResourceType, op: str) -> bool:
    for rule in rules:
        groups = rule.get("apiGroups") or []
        resources = rule.get("resources") or []
        ops = rule.get("operations") or []
        if "*" not in groups and rtype.group not in groups:
            continue
        if "*" not in resources and "*/*" not in resources and rtype.plural not in resources:
            continue
        if "*" not in ops and op not in ops:
            continue
        return True
    return False


# A host in a config string: [scheme://]name[.ns[.svc[.cluster.local]]][:port]
_HOST_RE = re.compile(
    r"(?<![\w.@/-])([a-z][a-z0-9+.-]*://)?([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)"
    r"(?:\.([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)(\.svc(?:\.cluster\.local)?)?)?"
    r"(?::(\d+))?(?![\w.-])"
)


def _next_retry(waited: float, policy: dict | None) -> float:
    """The first volume-mount retry at or after `waited` seconds since pod creation,
    under the kubelet's exponential back-off (see timing.yaml)."""
    policy = policy or {}
    step, cap = float(policy.get("initial", 0.5)), float(policy.get("cap", 122))
    at = 0.0
    while at < waited:
        at += step
        step = min(step * 2, cap)
    return at


def _pod_refs(pod: dict) -> list[tuple[str, str]]:
    """The ConfigMaps and Secrets a pod cannot start without (non-optional references)."""
    # Kept apart from installer.engine.needs on purpose: the simulator is what the
    # engine is tested against, so it must not borrow the engine's reading.
    refs = []
    for vol in pod.get("volumes") or []:
        if "secret" in vol and not vol["secret"].get("optional"):
            refs.append(("secrets", vol["secret"].get("secretName")))
        if "configMap" in vol and not vol["configMap"].get("optional"):
            refs.append(("configmaps", vol["configMap"].get("name")))
    for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            for key, plural in (("secretKeyRef", "secrets"), ("configMapKeyRef", "configmaps")):
                ref = source.get(key)
                if ref and not ref.get("optional"):
                    refs.append((plural, ref.get("name")))
        for env in container.get("envFrom") or []:
            for key, plural in (("secretRef", "secrets"), ("configMapRef", "configmaps")):
                ref = env.get(key)
                if ref and not ref.get("optional"):
                    refs.append((plural, ref.get("name")))
    return [(p, n) for p, n in refs if n]


def default_nodes() -> list[dict[str, Any]]:
    """Two CPU nodes and one GPU node, as a small EKS cluster would report them."""
    nodes = []
    for i, gpu in ((1, 0), (2, 0), (3, 4)):
        labels = {"kubernetes.io/hostname": f"node-{i}", "kubernetes.io/os": "linux"}
        allocatable = {"cpu": "7910m", "memory": "30Gi", "pods": "58"}
        if gpu:
            labels["nvidia.com/gpu.present"] = "true"
            allocatable["nvidia.com/gpu"] = str(gpu)
        nodes.append(
            {
                "metadata": {"name": f"node-{i}", "labels": labels},
                "spec": {},
                "status": {
                    "addresses": [
                        {"type": "InternalIP", "address": f"10.0.1.{10 + i}"},
                        {"type": "Hostname", "address": f"node-{i}"},
                    ],
                    "allocatable": allocatable,
                    "capacity": dict(allocatable),
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )
    return nodes
