"""The Kubernetes calls `kfstack verify` makes, as a protocol any client can satisfy.

The verify checks need only a handful of operations, so they are written against this
interface rather than a concrete client: the REST client in `installer/kube/` and the
simulated API server's client both satisfy it (structural typing, no inheritance), and
tests can use a small in-memory double.

`runs_workloads` is False for a cluster whose pods are never scheduled or run (the
simulated cluster): checks that need a running pod report "not-run" with that reason
instead of waiting for something that cannot happen.

Objects are plain dicts in the API's JSON form. `get` returns None for a missing object
and `delete` of a missing object is not an error, so checks can clean up idempotently.
Failures raise `installer.errors.KfstackError` (or a subclass).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

Obj = dict[str, Any]


@runtime_checkable
class KubeApi(Protocol):
    runs_workloads: bool

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        """The object, or None when it does not exist."""

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[Obj]:
        """Objects of a kind, optionally in one namespace and matching a label selector."""

    def create(self, obj: Obj) -> Obj:
        """Create the object; returns it as stored."""

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        """Delete the object (and, for Jobs, its pods); a missing object is not an error."""

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        name: str | None = None,
        timeout: float = 60.0,
    ) -> Iterator[tuple[str, Obj]]:
        """(event type, object) pairs (ADDED, MODIFIED, DELETED) until `timeout` seconds."""

    def pod_logs(
        self, name: str, namespace: str, *, container: str | None = None, tail_lines: int = 200
    ) -> str:
        """The last lines of a pod's log."""

    def create_token(self, namespace: str, service_account: str, *, seconds: int = 900) -> str:
        """A bound service-account token (TokenRequest), default audience."""


def wait_for(
    kube: KubeApi,
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    done: Callable[[Obj | None], bool],
    *,
    timeout: float,
    progress: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Obj | None:
    """Watch one object until `done(obj)` holds (obj is None once deleted); returns it.

    `progress(elapsed_seconds)` is called on every event and every watch restart, so a
    long wait can show it is alive.

    Raises:
        TimeoutError: `done` did not hold within `timeout` seconds.
    """
    started = clock()
    deadline = started + timeout
    current = kube.get(api_version, kind, name, namespace)
    if done(current):
        return current
    while (left := deadline - clock()) > 0:
        for event, obj in kube.watch(api_version, kind, namespace, name=name, timeout=left):
            current = None if event == "DELETED" else obj
            if progress is not None:
                progress(clock() - started)
            if done(current):
                return current
        # A watch may end early (server timeout, dropped connection): re-read, go on.
        if progress is not None:
            progress(clock() - started)
        current = kube.get(api_version, kind, name, namespace)
        if done(current):
            return current
    raise TimeoutError(
        f"{kind} {namespace + '/' if namespace else ''}{name}: not done in {timeout:.0f}s"
    )
