"""What the cluster already has, kept current by watches: the facts the engine's needs
(`needs.py`) are checked against.

One thread per watched kind (Namespaces, CRDs, EndpointSlices, Secrets) lists once and
then watches from that resourceVersion, resuming with a new list when a watch ends,
breaks or expires (410), with backoff on transient errors. Secrets are kept by name
only: their values never leave the watch stream. Objects kfstack applies itself are
recorded by the engine (`("applied", ref)`), since that is what it knows first.

Every new fact wakes the scheduler through `changed`; `take_new()` hands it the facts
that came true since it last looked, so it re-checks only the objects waiting on them.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from typing import Any

from installer.engine import waits
from installer.engine.needs import Need
from installer.engine.retry import Backoff, sleep
from installer.kube import ApiError, KubeClient, KubeError

LOG = logging.getLogger("kfstack.engine")
WATCH_SECONDS = 30.0


def _namespace(obj: dict[str, Any]) -> list[Need]:
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp") or (obj.get("status") or {}).get("phase") == "Terminating":
        return []
    return [("namespace", meta["name"])]


def _crd(obj: dict[str, Any]) -> list[Need]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Established" and cond.get("status") == "True":
            return [("established", obj["metadata"]["name"])]
    return []


def _endpoint_slice(obj: dict[str, Any]) -> list[Need]:
    if waits.endpoint_slice_ready(obj):
        return [("serving", obj["metadata"].get("namespace", ""), waits.slice_service(obj))]
    return []


def _secret(obj: dict[str, Any]) -> list[Need]:
    meta = obj["metadata"]
    return [("secret", meta.get("namespace", ""), meta["name"])]


# (apiVersion, kind, what an object of that kind makes true)
WATCHED: list[tuple[str, str, Callable[[dict[str, Any]], list[Need]]]] = [
    ("v1", "Namespace", _namespace),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition", _crd),
    ("discovery.k8s.io/v1", "EndpointSlice", _endpoint_slice),
    ("v1", "Secret", _secret),
]


class Facts:
    """The set of needs that hold now. Thread-safe; `changed` is notified on news."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self._true: set[Need] = set()
        self._new: list[Need] = []
        self._synced: set[str] = set()

    def holds(self, need: Need) -> bool:
        with self.changed:
            return need in self._true

    def add(self, needs: Iterable[Need]) -> None:
        with self.changed:
            fresh = [n for n in needs if n not in self._true]
            if fresh:
                self._true.update(fresh)
                self._new.extend(fresh)
                self.changed.notify_all()

    def discard(self, needs: Iterable[Need]) -> None:
        with self.changed:
            self._true.difference_update(needs)

    def wait_news(self, timeout: float) -> None:
        """Block until a fact came true or someone called `poke()`, at most `timeout`."""
        with self.changed:
            if not self._new:
                self.changed.wait(timeout)

    def poke(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def take_new(self) -> list[Need]:
        with self.changed:
            new, self._new = self._new, []
            return new

    def synced(self, kind: str) -> None:
        with self.changed:
            self._synced.add(kind)
            self.changed.notify_all()

    def wait_synced(self, count: int, timeout: float) -> bool:
        """True once `count` kinds were listed at least once."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self._synced) >= count, timeout)


class Observer:
    """Watches the kinds in WATCHED into `facts` until `close()`."""

    def __init__(self, kube: KubeClient, facts: Facts, backoff: Backoff) -> None:
        self.kube, self.facts, self.backoff = kube, facts, backoff
        self.done = threading.Event()
        self.threads = [
            threading.Thread(
                target=self._watch, args=spec, name=f"kfstack-watch-{spec[1]}", daemon=True
            )
            for spec in WATCHED
        ]

    def start(self, timeout: float) -> Observer:
        """Start watching; returns once every kind was listed (or `timeout` passed)."""
        for thread in self.threads:
            thread.start()
        self.facts.wait_synced(len(self.threads), timeout)
        return self

    def close(self) -> None:
        self.done.set()

    def _watch(
        self, api_version: str, kind: str, facts_of: Callable[[dict[str, Any]], list[Need]]
    ) -> None:
        rng = random.Random()
        attempt = 0
        held: dict[tuple[str, str], list[Need]] = {}
        while not self.done.is_set():
            try:
                res = self.kube.resource(api_version, kind)
                listing = self.kube.list(res)
                now = {
                    (i["metadata"].get("namespace", ""), i["metadata"]["name"]): facts_of(i)
                    for i in listing.get("items", [])
                }
                still = {n for ns in now.values() for n in ns}
                gone = [n for ns in held.values() for n in ns if n not in still]
                self.facts.discard(gone)
                held = now
                self.facts.add(n for ns in now.values() for n in ns)
                self.facts.synced(kind)
                rv = listing.get("metadata", {}).get("resourceVersion", "")
                for event, obj in self.kube.watch(res, resource_version=rv, timeout=WATCH_SECONDS):
                    key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                    new = [] if event == "DELETED" else facts_of(obj)
                    before = held.get(key, [])
                    held[key] = new
                    lost = [n for n in before if n not in new]
                    if lost:
                        # Several objects can make one fact true (a Service's slices).
                        still = {n for ns in held.values() for n in ns}
                        self.facts.discard(n for n in lost if n not in still)
                    self.facts.add(new)
                    if self.done.is_set():
                        return
                attempt = 0
            except KubeError as exc:
                if self.done.is_set():
                    return
                if isinstance(exc, ApiError) and exc.code == 410:
                    continue
                delay = self.backoff.delay(min(attempt, 8), rng)
                attempt += 1
                LOG.info("watching %s: %s; retrying in %.2f s", kind, exc, delay)
                sleep(delay, self.done)
