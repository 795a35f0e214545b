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

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

from installer import redact
from installer.errors import KfstackError

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


class RestKube:
    """`KubeApi` over the install engine's REST client (`installer.kube.KubeClient`).

    The client is duck-typed here (resource mapping, get_or_none, list, watch and raw
    `request`), so this module does not import it. `runs_workloads` is the caller's
    knowledge: False when the client talks to the simulated API server.
    """

    def __init__(self, client: Any, *, runs_workloads: bool = True) -> None:
        self.client = client
        self.runs_workloads = runs_workloads

    def _res(self, api_version: str, kind: str) -> Any:
        return self.client.resource(api_version, kind)

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Obj | None:
        return self.client.get_or_none(self._res(api_version, kind), name, namespace)

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[Obj]:
        res = self._res(api_version, kind)
        found = self.client.list(res, namespace, label_selector=label_selector or "")
        return list(found.get("items") or [])

    def create(self, obj: Obj) -> Obj:
        res = self._res(obj["apiVersion"], obj["kind"])
        namespace = (obj.get("metadata") or {}).get("namespace")
        return self.client.request("POST", res.path(namespace), body=json.dumps(obj).encode())

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        res = self._res(api_version, kind)
        # Background propagation: a Job's pods go with it (the API's default orphans them).
        try:
            self.client.request(
                "DELETE", res.path(namespace, name), query={"propagationPolicy": "Background"}
            )
        except KfstackError as exc:
            if getattr(exc, "code", None) != 404:
                raise

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        name: str | None = None,
        timeout: float = 60.0,
    ) -> Iterator[tuple[str, Obj]]:
        res = self._res(api_version, kind)
        for event, obj in self.client.watch(res, namespace, timeout=timeout):
            if name is None or (obj.get("metadata") or {}).get("name") == name:
                yield event, obj

    def pod_logs(
        self, name: str, namespace: str, *, container: str | None = None, tail_lines: int = 200
    ) -> str:
        query = {"tailLines": str(tail_lines)} | ({"container": container} if container else {})
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/log"
        # The log endpoint answers text/plain, so read the raw response, not JSON.
        resp = self.client.request("GET", path, query=query, stream=True)
        try:
            return resp.read().decode("utf-8", "replace")
        finally:
            resp.release_conn()

    def create_token(self, namespace: str, service_account: str, *, seconds: int = 900) -> str:
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": seconds},
        }
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token"
        answer = self.client.request("POST", path, body=json.dumps(body).encode())
        token = (answer.get("status") or {}).get("token")
        if not token:
            raise KfstackError(f"TokenRequest for {namespace}/{service_account} returned no token")
        redact.register(token)
        return token
