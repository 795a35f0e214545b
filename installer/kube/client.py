"""A thin Kubernetes REST client: discovery, server-side apply, get/list/watch/delete.

One connection pool shared by the engine's worker threads; no kubectl per object.
Errors are classified here once: `ApiError.transient` says whether a retry can help
(429, 5xx, a webhook not yet serving), `NoMatchError` is the REST-mapping miss that
follows a CRD which is not Established yet, and `ConnectionFailed` covers resets,
refusals and timeouts.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
import yaml

from installer.errors import KfstackError
from installer.kube.config import KubeConfig

LOG = logging.getLogger("kfstack.kube")
TRANSIENT_CODES = {429, 500, 502, 503, 504}


class KubeError(KfstackError):
    """Base of the client's errors; `transient` says whether a retry can help."""

    transient = False


class ConnectionFailed(KubeError):
    transient = True


class NoMatchError(KubeError):
    """The kind is not served (yet): kubectl's "no matches for kind"."""

    transient = True

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(
            f'no matches for kind "{kind}" in version "{api_version}" '
            "(ensure CRDs are installed first)"
        )
        self.api_version, self.kind = api_version, kind


class ApiError(KubeError):
    def __init__(self, code: int, reason: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.code, self.reason, self.retry_after = code, reason, retry_after

    @property
    def transient(self) -> bool:  # type: ignore[override]
        return self.code in TRANSIENT_CODES

    @property
    def webhook(self) -> str | None:
        """The webhook that could not be called, when that is why the request failed."""
        marker = 'failed calling webhook "'
        if marker in self.message:
            return self.message.split(marker, 1)[1].split('"', 1)[0]
        return None


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and name and not namespace:
            namespace = "default"  # as kubectl: a namespaced object without one
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name)}"
        return base


class KubeClient:
    """Talks to one API server. Thread-safe; discovery is cached until `invalidate()`."""

    def __init__(self, config: KubeConfig, *, timeout: float = 30.0, pool_size: int = 16):
        self.config = config
        self.timeout = timeout
        kwargs: dict[str, Any] = {"maxsize": pool_size, "block": False, "retries": False}
        ctx = config.ssl_context()
        if ctx is not None:
            kwargs["ssl_context"] = ctx
        self.http = urllib3.PoolManager(**kwargs)
        self._discovery: dict[tuple[str, str], Resource] | None = None
        self._lock = threading.Lock()
        self.requests = 0
        # The server's `Warning` headers (deprecated APIs, unknown fields kept, ...), by
        # text, each logged once; kubectl prints them too, so a run should not hide them.
        self.warnings: dict[str, int] = {}

    # ------------------------------------------------------------ transport

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
        stream: bool = False,
    ) -> Any:
        """One HTTP request; returns decoded JSON (or the raw response when `stream`).

        Raises:
            ApiError: the server answered with a Status failure.
            ConnectionFailed: no answer (refused, reset, timed out).
        """
        url = self.config.server + path + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": "application/json", "User-Agent": "kfstack"}
        if body is not None:
            headers["Content-Type"] = content_type
        token = self.config.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.requests += 1
        try:
            resp = self.http.request(
                method,
                url,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=5.0, read=timeout or self.timeout),
                preload_content=not stream,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ConnectionFailed(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if "Warning" in resp.headers:
            self._note_warnings(method, path, resp.headers.getlist("Warning"))
        if resp.status >= 400:
            data = resp.data if not stream else resp.read()
            raise _api_error(resp.status, data, resp.headers.get("Retry-After"))
        if stream:
            return resp
        return json.loads(resp.data) if resp.data else {}

    def _note_warnings(self, method: str, path: str, values: list[str]) -> None:
        for text in _warning_texts(values):
            with self._lock:
                seen = self.warnings.get(text, 0)
                self.warnings[text] = seen + 1
            if not seen:
                LOG.warning("API server warning (%s %s): %s", method, path, text)

    # ------------------------------------------------------------ discovery

    def invalidate(self) -> None:
        with self._lock:
            self._discovery = None

    def _discover(self) -> dict[tuple[str, str], Resource]:
        with self._lock:
            if self._discovery is not None:
                return self._discovery
        found: dict[tuple[str, str], Resource] = {}
        gvs = [f"v{v[1:]}" for v in self._get_patiently("/api").get("versions", [])]
        paths = [f"/api/{v}" for v in gvs]
        for group in self._get_patiently("/apis").get("groups", []):
            paths += [f"/apis/{v['groupVersion']}" for v in group.get("versions", [])]
        for path in paths:
            try:
                listing = self._get_patiently(path)
            except ApiError as exc:
                if exc.code == 404:  # a CRD removed between the two calls
                    continue
                raise
            gv = listing["groupVersion"]
            group, _, version = gv.rpartition("/")
            for res in listing.get("resources", []):
                if "/" in res["name"]:
                    continue
                found[(gv, res["kind"])] = Resource(
                    group, version, res["name"], res["kind"], res["namespaced"]
                )
        with self._lock:
            self._discovery = found
        return found

    def _get_patiently(self, path: str, attempts: int = 6) -> dict[str, Any]:
        # Discovery is ~50 GETs; with a few percent of requests failing, retrying the
        # whole walk would rarely succeed, so each GET retries on its own, briefly.
        for attempt in range(attempts):
            try:
                return self.request("GET", path)
            except KubeError as exc:
                if not exc.transient or attempt == attempts - 1:
                    raise
                wait = min(1.0, 0.01 * 2**attempt)
                if isinstance(exc, ApiError) and exc.retry_after:
                    wait = max(wait, min(exc.retry_after, 1.0))
                time.sleep(wait)
        raise AssertionError("unreachable")

    def resource(self, api_version: str, kind: str, *, refresh: bool = True) -> Resource:
        """The REST mapping of a kind; on a miss, rediscovers just that group/version.

        Raises:
            NoMatchError: the kind is not served (its CRD is missing or not Established).
        """
        found = self._discover().get((api_version, kind))
        if found is None and refresh:
            # One GET for the group/version instead of the whole walk: after each CRD
            # the engine looks up a new kind, and a full rediscovery is ~50 requests.
            path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            try:
                listing = self._get_patiently(path)
            except ApiError as exc:
                if exc.code != 404:
                    raise
                listing = {"resources": []}
            group, _, version = api_version.rpartition("/")
            with self._lock:
                table = self._discovery if self._discovery is not None else {}
                for res in listing.get("resources", []):
                    if "/" not in res["name"]:
                        table[(api_version, res["kind"])] = Resource(
                            group, version, res["name"], res["kind"], res["namespaced"]
                        )
                found = table.get((api_version, kind))
        if found is None:
            raise NoMatchError(api_version, kind)
        return found

    def resource_of(self, obj: dict[str, Any]) -> Resource:
        return self.resource(obj["apiVersion"], obj["kind"])

    # ------------------------------------------------------------ verbs

    def apply(
        self,
        obj: dict[str, Any],
        *,
        field_manager: str,
        force: bool = True,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Server-side apply one object; returns the object as the server now holds it.

        Raises:
            NoMatchError, ApiError, ConnectionFailed.
        """
        res = self.resource_of(obj)
        meta = obj.get("metadata") or {}
        query = {"fieldManager": field_manager, "force": "true" if force else "false"}
        if dry_run:
            query["dryRun"] = "All"
        body = json.dumps(obj).encode()  # JSON is YAML; the apply content type takes it
        return self.request(
            "PATCH",
            res.path(meta.get("namespace"), meta["name"]),
            query=query,
            body=body,
            content_type="application/apply-patch+yaml",
        )

    def get(self, res: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.request("GET", res.path(namespace, name))

    def get_or_none(
        self, res: Resource, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            return self.get(res, name, namespace)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    def list(
        self, res: Resource, namespace: str | None = None, *, label_selector: str = ""
    ) -> dict[str, Any]:
        query = {"labelSelector": label_selector} if label_selector else None
        return self.request("GET", res.path(namespace), query=query)

    def delete(self, res: Resource, name: str, namespace: str | None = None) -> bool:
        """Delete; False when it was already gone."""
        try:
            self.request("DELETE", res.path(namespace, name))
            return True
        except ApiError as exc:
            if exc.code == 404:
                return False
            raise

    def watch(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        label_selector: str = "",
        timeout: float = 60.0,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Stream (event type, object) until the server ends the watch or `timeout`.

        Raises:
            ApiError: 410 Gone when resource_version was compacted; others as request().
            ConnectionFailed: the stream broke.
        """
        query = {"watch": "true", "timeoutSeconds": str(max(1, int(timeout + 0.999)))}
        if resource_version:
            query["resourceVersion"] = resource_version
        if label_selector:
            query["labelSelector"] = label_selector
        resp = self.request(
            "GET", res.path(namespace), query=query, stream=True, timeout=timeout + 5
        )
        buffer = b""
        try:
            for chunk in resp.stream(65536, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise ApiError(
                            int(status.get("code", 500)),
                            status.get("reason", ""),
                            status.get("message", "watch error"),
                        )
                    yield event["type"], event["object"]
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ConnectionFailed(f"watch {res.plural}: {exc}") from None
        finally:
            resp.release_conn()


# RFC 9111 warn-value as the API server writes it: `299 - "text"` (one header per warning;
# several in one header are comma-separated; quotes and backslashes are escaped).
_WARNING = re.compile(r'\s*(\d{3})\s+\S+\s+"((?:[^"\\]|\\.)*)"')


def _warning_texts(values: list[str]) -> list[str]:
    texts = []
    for value in values:
        for match in _WARNING.finditer(value):
            texts.append(re.sub(r"\\(.)", r"\1", match.group(2)))
    return texts


def _api_error(code: int, data: bytes, retry_after: str | None) -> ApiError:
    try:
        status = json.loads(data)
        message, reason = status.get("message", ""), status.get("reason", "")
    except ValueError:
        message, reason = data.decode(errors="replace")[:300], ""
    wait = None
    if retry_after:
        try:
            wait = float(retry_after)
        except ValueError:
            wait = None
    return ApiError(code, reason, message or f"HTTP {code}", wait)


def dump_yaml(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj, sort_keys=True)
