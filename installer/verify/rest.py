"""`KubeApi` (what the verify checks need) over the engine's REST client (`installer.kube`).

`runs_workloads` is read from the server: kfstack's simulated cluster announces itself
in `/version` (`...+kfstack-simulator`), and checks that need a running pod are then
reported not-run instead of waiting for a pod that can never start.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from installer import kube
from installer.errors import KfstackError
from installer.kube import ApiError, KubeClient

SIMULATOR_MARK = "kfstack-simulator"


class RestKube:
    """Adapts `installer.kube.KubeClient` to `installer.verify.kube.KubeApi`."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client
        try:
            version = client.request("GET", "/version")
        except (ApiError, kube.ConnectionFailed) as exc:
            raise KfstackError(
                f"cannot reach the cluster at {client.config.server} ({exc})",
                hint="check the kubeconfig and that the cluster is up",
            ) from None
        self.runs_workloads = SIMULATOR_MARK not in str(version.get("gitVersion", ""))

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        res = self.client.resource(api_version, kind)
        return self.client.get_or_none(res, name, namespace)

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        res = self.client.resource(api_version, kind)
        return self.client.list(res, namespace, label_selector=label_selector or "").get(
            "items", []
        )

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        res = self.client.resource_of(obj)
        namespace = obj.get("metadata", {}).get("namespace")
        body = _json(obj)
        return self.client.request("POST", res.path(namespace), body=body)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        res = self.client.resource(api_version, kind)
        if kind == "Job":
            # Foreground-like cleanup: the Job's pods go with it.
            body = _json({"kind": "DeleteOptions", "propagationPolicy": "Background"})
            try:
                self.client.request("DELETE", res.path(namespace, name), body=body)
            except ApiError as exc:
                if exc.code != 404:
                    raise
            return
        self.client.delete(res, name, namespace)

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        name: str | None = None,
        timeout: float = 60.0,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        res = self.client.resource(api_version, kind)
        for event, obj in self.client.watch(res, namespace, timeout=timeout):
            if name is None or obj.get("metadata", {}).get("name") == name:
                yield event, obj

    def pod_logs(
        self, name: str, namespace: str, *, container: str | None = None, tail_lines: int = 200
    ) -> str:
        query = {"tailLines": str(tail_lines)}
        if container:
            query["container"] = container
        resp = self.client.request(
            "GET", f"/api/v1/namespaces/{namespace}/pods/{name}/log", query=query, stream=True
        )
        try:
            return resp.read().decode("utf-8", "replace")
        finally:
            resp.release_conn()

    def create_token(self, namespace: str, service_account: str, *, seconds: int = 900) -> str:
        body = _json(
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": seconds},
            }
        )
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token"
        answer = self.client.request("POST", path, body=body)
        return str(answer.get("status", {}).get("token", ""))


def connect(kubeconfig: Path, context: str | None) -> RestKube:
    """A verify client for the cluster of `kubeconfig`.

    Raises:
        UserError: the kubeconfig is missing or malformed.
        KfstackError: the cluster cannot be reached.
    """
    return RestKube(kube.connect(kubeconfig, context=context))


def _json(obj: dict[str, Any]) -> bytes:
    import json

    return json.dumps(obj).encode()
