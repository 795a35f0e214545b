"""Readiness: what "done" means per kind, and waiting for it with watches.

A wait lists once (state + resourceVersion), then watches from that version until every
named object satisfies its predicate or the deadline passes; a watch that ends, breaks
or expires (410) is resumed by listing again. No fixed sleeps.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from installer.engine.retry import Backoff, sleep
from installer.errors import Interrupted, KfstackError
from installer.kube import ApiError, KubeClient, KubeError

LOG = logging.getLogger("kfstack.engine")

Predicate = Callable[[dict[str, Any]], bool]


class WaitTimeout(KfstackError):
    """Objects did not become ready in time; names them and what they lack."""


def _condition(obj: dict[str, Any], kind: str) -> bool:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond.get("status") == "True"
    return False


def crd_established(obj: dict[str, Any]) -> bool:
    return _condition(obj, "Established")


def workload_ready(obj: dict[str, Any]) -> bool:
    """Rolled out: the controller saw this generation and every replica is ready/updated."""
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return False
    kind = obj.get("kind")
    if kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled", 0)
        return (
            status.get("numberReady", 0) >= desired
            and status.get("updatedNumberScheduled", 0) >= desired
        )
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    if kind == "Deployment":
        return (
            status.get("updatedReplicas", 0) >= replicas
            and status.get("availableReplicas", 0) >= replicas
            and (replicas == 0 or _condition(obj, "Available"))
        )
    return (
        status.get("readyReplicas", 0) >= replicas
        and status.get("updatedReplicas", replicas) >= replicas
    )


def condition_ready(obj: dict[str, Any]) -> bool:
    return _condition(obj, "Ready")


SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def endpoint_slice_ready(obj: dict[str, Any]) -> bool:
    """An EndpointSlice with a ready address (an unset `ready` means ready, per the API)."""
    return any(
        ep.get("addresses") and (ep.get("conditions") or {}).get("ready") is not False
        for ep in obj.get("endpoints") or []
    )


def slice_service(obj: dict[str, Any]) -> str:
    """The Service an EndpointSlice belongs to (its name is `<service>-<suffix>`)."""
    return ((obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL, "")


def exists(obj: dict[str, Any]) -> bool:
    return not (obj.get("metadata") or {}).get("deletionTimestamp")


def predicate_for(kind: str) -> Predicate | None:
    """What readiness means for a kind the engine waits on (None: applied is enough)."""
    return {
        "CustomResourceDefinition": crd_established,
        "Deployment": workload_ready,
        "StatefulSet": workload_ready,
        "DaemonSet": workload_ready,
        "Certificate": condition_ready,
        "Issuer": condition_ready,
        "ClusterIssuer": condition_ready,
        "EndpointSlice": endpoint_slice_ready,
        "Namespace": exists,
    }.get(kind)


def wait_for(
    kube: KubeClient,
    api_version: str,
    kind: str,
    namespace: str | None,
    names: set[str],
    predicate: Predicate,
    *,
    deadline: float,
    stop: threading.Event | None = None,
    backoff: Backoff | None = None,
    what: str = "ready",
) -> None:
    """Block until every object in `names` (one kind, one namespace) satisfies `predicate`.

    For EndpointSlices `names` are Services: a Service counts once one of its slices does.

    Raises:
        WaitTimeout: the deadline passed; the message lists what is still pending.
        Interrupted: `stop` was set.
    """
    backoff = backoff or Backoff()
    rng = random.Random()
    pending = set(names)
    attempt = 0
    res = None
    while pending:
        if stop is not None and stop.is_set():
            raise Interrupted("stopped while waiting")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            listed = ", ".join(sorted(pending)[:8])
            shown = "Service" if kind == "EndpointSlice" else kind
            raise WaitTimeout(f"timed out waiting for {shown} {listed} to be {what}")
        try:
            res = res or kube.resource(api_version, kind)
            listing = kube.list(res, namespace)
            for item in listing.get("items", []):
                name = _name_of(kind, item)
                if name in pending and predicate(item):
                    pending.discard(name)
            if not pending:
                return
            rv = listing.get("metadata", {}).get("resourceVersion", "")
            for event, obj in kube.watch(
                res, namespace, resource_version=rv, timeout=min(remaining, 30.0)
            ):
                name = _name_of(kind, obj)
                if name in pending and event != "DELETED" and predicate(obj):
                    pending.discard(name)
                    if not pending:
                        return
                if stop is not None and stop.is_set():
                    raise Interrupted("stopped while waiting")
            attempt = 0
        except KubeError as exc:
            if isinstance(exc, ApiError) and exc.code == 410:
                continue
            if not exc.transient:
                raise
            wait = backoff.delay(attempt, rng, getattr(exc, "retry_after", None))
            attempt += 1
            LOG.info("waiting for %s %s: %s; retrying in %.2f s", kind, what, exc, wait)
            sleep(min(wait, max(0.0, deadline - time.monotonic())), stop)


def _name_of(kind: str, obj: dict[str, Any]) -> str:
    return slice_service(obj) if kind == "EndpointSlice" else obj["metadata"]["name"]
