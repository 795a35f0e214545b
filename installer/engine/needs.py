"""What each object of a rendered platform needs in the cluster before it is applied.

The engine applies an object as soon as its needs hold, and never earlier, so nothing
is rejected by admission and no pod starts into a crash loop. Needs are read from the
manifests of the whole tree (any component may need any other's objects) plus the
short list of client defaults in `data/needs.yaml`; nothing here knows how long
anything takes. A need is a tuple, and the engine's cluster observer (`observe.py`)
reports the same tuples as they come true:

    ("namespace", name)         the namespace exists and is not terminating
    ("established", crd)        the CustomResourceDefinition is Established
    ("applied", ref)            kfstack applied that object of the tree (this run, or
                                its component is unchanged)
    ("secret", ns, name)        the Secret exists (one a cert-manager Certificate issues)
    ("serving", ns, service)    an EndpointSlice of the Service has a ready address

The rules:

- every namespaced object needs its namespace; a custom resource its CRD, when the
  tree has it;
- an object that a Fail admission webhook of the tree would intercept (rules,
  namespaceSelector, objectSelector), or that a mutating one would change, needs that
  webhook configuration applied; a webhook configuration needs its Services serving,
  so it is never registered before its backend answers;
- a workload (Deployment, StatefulSet, DaemonSet, Job) needs its ServiceAccount and
  the ConfigMaps and Secrets its pods mount or read, the webhooks that would admit its
  pods, and the Services its containers reach at start: hosts named in env values,
  ConfigMap-sourced env and args (`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`, with
  a scheme or port, or a bare name in a host-like variable), plus `implicit` client
  defaults; `lazy` and `waits_in_process` clients need none.
  Not its own component's CRDs: the engine sends CRDs before anything else and they
  are Established within a second or two, long before a new pod has pulled its
  image, so waiting for them would only delay the controllers that start the longest
  chains (istiod, then the sidecar injector every Kubeflow pod waits for).

Cycles (two workloads naming each other, a webhook guarding its own backend) would
deadlock: needs inside a strongly connected part of the object graph are dropped and
reported, so those objects are applied and left to the cluster's own retries.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from installer.engine.inventory import ObjectRef

LOG = logging.getLogger("kfstack.engine")
DATA = Path(__file__).with_name("data") / "needs.yaml"

Need = tuple
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
POD_OWNERS = (*WORKLOADS, "Job")
HOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
# A variable whose whole value is a bare Service name says so in its name.
HOST_VAR = re.compile(r"(HOST|HOSTNAME|HOST_NAME|ADDR|ADDRESS|ENDPOINT|URL|SERVER)$", re.I)
# [scheme://]name[.ns[.svc[.cluster.local]]][:port], not inside a longer word or path
HOST = re.compile(
    r"(?<![\w.@/-])([a-z][a-z0-9+.-]*://)?([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)"
    r"(?:\.([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)(\.svc(?:\.cluster\.local)?)?)?"
    r"(?::(\d+))?(?![\w.-])"
)


@cache
def knowledge() -> dict[str, Any]:
    """The engine's client defaults (`data/needs.yaml`)."""
    return yaml.safe_load(DATA.read_text())


def describe(need: Need) -> str:
    """A need as people read it: `Service kubeflow/mysql serving`."""
    what = need[0]
    if what == "namespace":
        return f"namespace {need[1]}"
    if what == "established":
        return f"CRD {need[1]} Established"
    if what == "applied":
        return f"{need[1]} applied"
    if what == "secret":
        return f"Secret {need[1]}/{need[2]}"
    return f"Service {need[1]}/{need[2]} serving"


@dataclass
class NeedGraph:
    """Per object of the tree, what must hold before it is applied."""

    needs: dict[ObjectRef, list[Need]] = field(default_factory=dict)
    # Objects of the tree whose readiness makes a need true (for cycles and priority).
    producers: dict[Need, set[ObjectRef]] = field(default_factory=dict)
    # (object, need) pairs dropped because they closed a cycle.
    cycles: list[tuple[ObjectRef, Need]] = field(default_factory=list)

    def needed(self) -> set[ObjectRef]:
        """Objects something else waits for: applied first when several are ready."""
        return {ref for refs in self.producers.values() for ref in refs}


@dataclass
class _Hook:
    name: str
    config: ObjectRef
    mutating: bool
    fail: bool
    rules: list[dict[str, Any]]
    namespace_selector: dict[str, Any] | None
    object_selector: dict[str, Any] | None
    service: tuple[str, str] | None


def build(
    components: dict[str, list[dict[str, Any]]],
    plural: Callable[[str, str], str],
    data: dict[str, Any] | None = None,
) -> NeedGraph:
    """The needs of every object in `components` (component name -> its objects).

    `plural(api_version, kind)` maps a built-in kind to its resource name (webhook
    rules name resources); the tree's CRDs name their own.
    """
    return _Builder(components, plural, data or knowledge()).build()


class _Builder:
    def __init__(
        self,
        components: dict[str, list[dict[str, Any]]],
        plural: Callable[[str, str], str],
        data: dict[str, Any],
    ) -> None:
        self.components, self.data = components, data
        self.objects = [o for objs in components.values() for o in objs]
        self.namespaces = {
            o["metadata"]["name"]: o["metadata"].get("labels") or {}
            for o in self.objects
            if o["kind"] == "Namespace"
        }
        self.profiles = {
            o["metadata"]["name"]
            for o in self.objects
            if o["kind"] == "Profile" and o["apiVersion"].startswith("kubeflow.org/")
        }
        self.crds: dict[tuple[str, str], tuple[str, str]] = {}  # (group, kind) -> (name, plural)
        for o in self.objects:
            if o["kind"] == "CustomResourceDefinition":
                spec = o.get("spec") or {}
                names = spec.get("names") or {}
                self.crds[(spec.get("group", ""), names.get("kind", ""))] = (
                    o["metadata"]["name"],
                    names.get("plural", ""),
                )
        self._plural = plural
        self.by_ref = {ObjectRef.of(o): o for o in self.objects}
        self.kinds: dict[tuple[str, str, str], ObjectRef] = {}  # (kind, ns, name) -> ref
        for ref in self.by_ref:
            self.kinds[(ref.kind, ref.namespace, ref.name)] = ref
        self.config_data = {
            (ref.namespace, ref.name): self.by_ref[ref].get("data") or {}
            for ref in self.by_ref
            if ref.kind == "ConfigMap"
        }
        self.cert_secrets: dict[tuple[str, str], ObjectRef] = {}
        for ref, o in self.by_ref.items():
            if ref.kind == "Certificate" and ref.api_version.startswith("cert-manager.io/"):
                secret = (o.get("spec") or {}).get("secretName")
                if secret:
                    self.cert_secrets[(ref.namespace, secret)] = ref
        self.pods: dict[str, list[tuple[ObjectRef, dict[str, str]]]] = defaultdict(list)
        for ref, o in self.by_ref.items():
            if ref.kind in POD_OWNERS:
                labels = _template(o).get("metadata", {}).get("labels") or {}
                self.pods[ref.namespace].append((ref, labels))
        self.hooks = [h for o in self.objects if o["kind"] in HOOK_KINDS for h in _hooks(o)]

    # ------------------------------------------------------------ the graph

    def build(self) -> NeedGraph:
        graph = NeedGraph()
        for objs in self.components.values():
            for obj in objs:
                ref = ObjectRef.of(obj)
                needs = list(dict.fromkeys(self._needs(ref, obj)))
                graph.needs[ref] = needs
                for need in needs:
                    if need not in graph.producers:
                        graph.producers[need] = self._producers(need)
        self._break_cycles(graph)
        return graph

    def _producers(self, need: Need) -> set[ObjectRef]:
        what = need[0]
        if what == "namespace":
            found = {self.kinds.get(("Namespace", "", need[1]))}
            if need[1] in self.profiles:
                found |= {r for r in self.by_ref if r.kind == "Profile" and r.name == need[1]}
            return {r for r in found if r}
        if what == "established":
            return {r for r in [self.kinds.get(("CustomResourceDefinition", "", need[1]))] if r}
        if what == "applied":
            return {need[1]}
        if what == "secret":
            cert = self.cert_secrets.get((need[1], need[2]))
            return {cert} if cert else set()
        ns, name = need[1], need[2]
        found = {r for r in [self.kinds.get(("Service", ns, name))] if r}
        selector = self._selector(ns, name)
        if selector:
            for ref, labels in self.pods.get(ns, []):
                if all(labels.get(k) == v for k, v in selector.items()):
                    found.add(ref)
        return found

    def _break_cycles(self, graph: NeedGraph) -> None:
        edges = {
            ref: {p for need in needs for p in graph.producers.get(need, ())}
            for ref, needs in graph.needs.items()
        }
        part = _components(edges)
        for ref, needs in graph.needs.items():
            keep = []
            for need in needs:
                if any(part.get(p) == part[ref] for p in graph.producers.get(need, ())):
                    graph.cycles.append((ref, need))
                    LOG.info("%s needs %s, which needs it back: not waiting", ref, describe(need))
                else:
                    keep.append(need)
            graph.needs[ref] = keep

    # ------------------------------------------------------------ one object

    def _needs(self, ref: ObjectRef, obj: dict[str, Any]) -> Iterable[Need]:
        if ref.namespace:
            yield ("namespace", ref.namespace)
        group = ref.api_version.rpartition("/")[0]
        crd = self.crds.get((group, ref.kind))
        if crd:
            yield ("established", crd[0])
        if ref.kind in HOOK_KINDS:
            for hook in _hooks(obj):
                if hook.service and self.kinds.get(("Service", *hook.service)):
                    yield ("serving", *hook.service)
            return
        yield from self._admission(ref.api_version, ref.kind, ref.namespace, obj)
        if ref.kind not in POD_OWNERS:
            return
        template = _template(obj)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": template.get("metadata") or {}}
        yield from self._admission("v1", "Pod", ref.namespace, pod)
        spec = template.get("spec") or {}
        account = spec.get("serviceAccountName") or spec.get("serviceAccount")
        if account and ("ServiceAccount", ref.namespace, account) in self.kinds:
            yield ("applied", self.kinds[("ServiceAccount", ref.namespace, account)])
        for kind, name in _pod_refs(spec):
            mine = self.kinds.get((kind, ref.namespace, name))
            if mine:
                yield ("applied", mine)
            elif kind == "Secret" and (ref.namespace, name) in self.cert_secrets:
                yield ("secret", ref.namespace, name)
        for ns, name in sorted(self._services(ref, template)):
            yield ("serving", ns, name)

    def _admission(
        self, api_version: str, kind: str, namespace: str, obj: dict[str, Any]
    ) -> Iterable[Need]:
        group = api_version.rpartition("/")[0]
        crd = self.crds.get((group, kind))
        resource = crd[1] if crd else self._plural(api_version, kind)
        ns_labels = dict(self.namespaces.get(namespace) or {})
        if kind == "Namespace":
            ns_labels = dict((obj.get("metadata") or {}).get("labels") or {})
            namespace = obj["metadata"]["name"]
        if namespace:
            ns_labels.setdefault("kubernetes.io/metadata.name", namespace)
        labels = (obj.get("metadata") or {}).get("labels") or {}
        for hook in self.hooks:
            # A validating webhook that ignores failures admits anyway; a mutating one
            # would silently not mutate, which is worse than waiting.
            if not (hook.fail or hook.mutating) or not hook.service:
                continue
            if not _rules_match(hook.rules, group, resource):
                continue
            scoped = bool(namespace)
            if scoped and not selector_matches(hook.namespace_selector, ns_labels):
                continue
            if not selector_matches(hook.object_selector, labels):
                continue
            yield ("applied", hook.config)

    def _services(self, ref: ObjectRef, template: dict[str, Any]) -> set[tuple[str, str]]:
        """Services this workload's containers reach at start (see the module docstring)."""
        data = self.data
        if any(fnmatch.fnmatch(ref.name, r["name"]) for r in data.get("lazy") or []):
            return set()
        spec = template.get("spec") or {}
        images = [c.get("image", "") for c in spec.get("containers") or []]
        for rule in data.get("waits_in_process") or []:
            if any(fnmatch.fnmatch(i, rule["image"]) for i in images):
                return set()
        wanted: set[tuple[str, str]] = set()
        for rule in data.get("implicit") or []:
            if fnmatch.fnmatch(ref.name, rule["name"]):
                wanted.add((rule.get("namespace", ref.namespace), rule["service"]))
        for var, text in self._config_strings(ref.namespace, spec):
            wanted |= self._hosts(ref.namespace, var, text)
        own = (template.get("metadata") or {}).get("labels") or {}
        out = set()
        for ns, name in wanted:
            if ("Service", ns, name) not in self.kinds:
                continue  # not ours to wait for: it may never come
            selector = self._selector(ns, name)
            if (
                ns == ref.namespace
                and selector
                and all(own.get(k) == v for k, v in selector.items())
            ):
                continue  # served by this workload itself
            out.add((ns, name))
        return out

    def _selector(self, ns: str, name: str) -> dict[str, str]:
        svc = self.kinds.get(("Service", ns, name))
        if svc is None:
            return {}
        return (self.by_ref[svc].get("spec") or {}).get("selector") or {}

    def _config_strings(self, ns: str, spec: dict[str, Any]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            for env in c.get("env") or []:
                if "value" in env:
                    out.append((env.get("name", ""), str(env["value"])))
                ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
                if ref:
                    value = self.config_data.get((ns, ref.get("name", "")), {}).get(ref.get("key"))
                    if value is not None:
                        out.append((env.get("name", ""), str(value)))
            for env in c.get("envFrom") or []:
                ref = env.get("configMapRef")
                if ref:
                    for k, v in self.config_data.get((ns, ref.get("name", "")), {}).items():
                        out.append((env.get("prefix", "") + k, str(v)))
            for arg in (c.get("command") or []) + (c.get("args") or []):
                out.append(("", str(arg)))
        return out

    def _hosts(self, ns: str, var: str, text: str) -> set[tuple[str, str]]:
        found = set()
        for m in HOST.finditer(text):
            scheme, name, other_ns, svc, port = m.groups()
            if other_ns:
                if svc or ("Service", other_ns, name) in self.kinds:
                    found.add((other_ns, name))
            elif scheme or port or (HOST_VAR.search(var) and text.strip() == name):
                found.add((ns, name))
        return found


# ------------------------------------------------------------ helpers


def _template(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return spec.get("template") or {}


def _hooks(obj: dict[str, Any]) -> list[_Hook]:
    ref = ObjectRef.of(obj)
    out = []
    for hook in obj.get("webhooks") or []:
        svc = (hook.get("clientConfig") or {}).get("service")
        out.append(
            _Hook(
                hook.get("name", ""),
                ref,
                ref.kind == "MutatingWebhookConfiguration",
                hook.get("failurePolicy", "Fail") == "Fail",
                hook.get("rules") or [],
                hook.get("namespaceSelector"),
                hook.get("objectSelector"),
                (svc.get("namespace", "default"), svc["name"]) if svc else None,
            )
        )
    return out


def _rules_match(rules: list[dict[str, Any]], group: str, resource: str) -> bool:
    for rule in rules:
        groups = rule.get("apiGroups") or []
        resources = rule.get("resources") or []
        ops = rule.get("operations") or []
        if "*" not in groups and group not in groups:
            continue
        if not ({"*", "*/*", resource} & set(resources)):
            continue
        if "*" in ops or "CREATE" in ops:
            return True
    return False


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions) against labels."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _pod_refs(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of the ConfigMaps and Secrets a pod cannot start without."""
    # The simulator's kubelet has its own reading of the same rule on purpose: it is
    # the oracle the engine is tested against, and a shared helper would make the two
    # agree by construction.
    refs = []
    volumes = list(spec.get("volumes") or [])
    for vol in list(volumes):
        for source in (vol.get("projected") or {}).get("sources") or []:
            volumes.append(source)
    for vol in volumes:
        secret, config = vol.get("secret"), vol.get("configMap")
        if secret and not secret.get("optional"):
            refs.append(("Secret", secret.get("secretName") or secret.get("name")))
        if config and not config.get("optional"):
            refs.append(("ConfigMap", config.get("name")))
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for env in c.get("env") or []:
            source = env.get("valueFrom") or {}
            for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                ref = source.get(key)
                if ref and not ref.get("optional"):
                    refs.append((kind, ref.get("name")))
        for env in c.get("envFrom") or []:
            for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                ref = env.get(key)
                if ref and not ref.get("optional"):
                    refs.append((kind, ref.get("name")))
    return [(k, n) for k, n in refs if n]


def _components(edges: dict[ObjectRef, set[ObjectRef]]) -> dict[ObjectRef, int]:
    """Strongly connected components (iterative Tarjan): object -> component number."""
    index: dict[ObjectRef, int] = {}
    low: dict[ObjectRef, int] = {}
    part: dict[ObjectRef, int] = {}
    stack: list[ObjectRef] = []
    on_stack: set[ObjectRef] = set()
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part[member] = index[node]
                    if member == node:
                        break
    return part
