"""The simulator's HTTP front: Kubernetes REST paths, watches, and injected faults.

`SimCluster` runs a threaded HTTP server on an ephemeral port plus one controller
thread that fires the timers of `ClusterState`. Faults are drawn per request from a
seeded random generator so a failing test can be replayed.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from installer.simcluster.resources import ResourceType
from installer.simcluster.state import ApiFailure, ClusterState
from installer.workdir import write_private

LOG = logging.getLogger("kfstack.simcluster")


SIMULATOR_VERSION = "v1.34.0+kfstack-simulator"


@dataclass
class Faults:
    """Injected faults, each a probability per request (watches included)."""

    error_rate: float = 0.0  # 500/503 answers
    throttle_rate: float = 0.0  # 429 with Retry-After
    drop_rate: float = 0.0  # connection closed without an answer
    slow_rate: float = 0.0  # answer delayed by slow_seconds
    slow_seconds: float = 0.5
    retry_after: int = 1
    seed: int = 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class SimCluster:
    """A simulated Kubernetes API server (not a real one) for tests, benchmarks and the
    sandbox. Use as a context manager; `url` is `http://127.0.0.1:<port>`."""

    def __init__(
        self,
        *,
        port: int = 0,
        clock_scale: float | None = None,
        faults: Faults | None = None,
        nodes: list[dict[str, Any]] | None = None,
        state_file: Path | None = None,
        timing: dict[str, Any] | None = None,
        load_balancer: dict[str, Any] | None = None,
    ) -> None:
        self.state = ClusterState(
            timing=timing, clock_scale=clock_scale, nodes=nodes, load_balancer=load_balancer
        )
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        self.state_file = Path(state_file) if state_file else None
        if self.state_file and self.state_file.exists():
            self.state.load(self.state_file)
        self.port = port
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self._server: _Server | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self.down = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ lifecycle

    def start(self) -> SimCluster:
        self._listen()
        controller = threading.Thread(target=self._controller, name="simcluster-ctl", daemon=True)
        controller.start()
        self._threads.append(controller)
        return self

    def _listen(self) -> None:
        sim = self

        class Handler(_Handler):
            cluster = sim

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="simcluster-http"
        )
        thread.daemon = True
        thread.start()
        self._threads.append(thread)

    def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._conns_lock:
            for conn in list(self._conns):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._conns.clear()

    def stop(self) -> None:
        self._stop.set()
        with self.state.lock:
            self.state.changed.notify_all()
        self._close_listener()
        if self.state_file:
            self.state.save(self.state_file)

    def restart(self, down_seconds: float) -> None:
        """Go down (connections refused, open ones cut) for `down_seconds` real seconds,
        keeping the state, then listen again on the same port. Returns at once."""

        def cycle() -> None:
            self.down = True
            self._close_listener()
            if self.state_file:
                self.state.save(self.state_file)
            time.sleep(down_seconds)
            self._listen()
            self.down = False
            LOG.info("simcluster back after %.2fs", down_seconds)

        threading.Thread(target=cycle, name="simcluster-restart", daemon=True).start()

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _controller(self) -> None:
        while not self._stop.is_set():
            wait = self.state.run_due()
            with self.state.lock:
                self.state.changed.wait(timeout=min(wait, 0.05) if wait else 0.05)

    def kubeconfig(self, path: Path, *, context: str = "simcluster") -> Path:
        """Write a kubeconfig that points at this server (plain HTTP, a dummy token)."""
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": "sim-" + secrets.token_hex(16)}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
        }
        write_private(path, yaml.safe_dump(doc))
        return path

    def fault(self) -> str | None:
        f = self.faults
        roll = self._rng.random()
        for name, rate in (
            ("error", f.error_rate),
            ("throttle", f.throttle_rate),
            ("drop", f.drop_rate),
            ("slow", f.slow_rate),
        ):
            if roll < rate:
                return name
            roll -= rate
        return None


ENDPOINTS_DEPRECATED = (
    "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
)


class _Handler(BaseHTTPRequestHandler):
    cluster: SimCluster
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:
        LOG.debug("%s " + fmt, self.address_string(), *args)

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the
        # peer's delayed ACK adds ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.cluster._conns_lock:
            self.cluster._conns.add(self.connection)

    def finish(self) -> None:
        with self.cluster._conns_lock:
            self.cluster._conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------ plumbing

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._send_warning()
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.cluster.requests.append((self.command, self.path, code))

    def _send_warning(self) -> None:
        warning = getattr(self, "_warning", None)
        if warning:
            escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
            self.send_header("Warning", f'299 - "{escaped}"')

    def _dispatch(self, method: str) -> None:
        self._warning: str | None = None
        body = self._body()
        fault = self.cluster.fault()
        if fault == "drop":
            self.cluster.requests.append((method, self.path, 0))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "slow":
            time.sleep(self.cluster.faults.slow_seconds)
        if fault == "throttle":
            retry = str(self.cluster.faults.retry_after)
            self._send(
                429,
                ApiFailure(
                    429, "TooManyRequests", "Too many requests, please try again later."
                ).status(),
                {"Retry-After": retry},
            )
            return
        if fault == "error":
            self._send(
                503,
                ApiFailure(
                    503,
                    "ServiceUnavailable",
                    "the server is currently unable to handle the request",
                ).status(),
            )
            return
        try:
            self._route(method, body)
        except ApiFailure as exc:
            self._send(exc.code, exc.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # the simulator's own bug: answer like an apiserver would
            LOG.exception("simcluster handler failed")
            self._send(500, ApiFailure(500, "InternalError", f"simulator: {exc}").status())

    def _route(self, method: str, body: bytes) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [unquote(p) for p in url.path.split("/") if p]
        state = self.cluster.state
        if parts in (["api"],):
            self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
            return
        if parts == ["apis"]:
            self._send(200, _group_list(state.resource_types()))
            return
        if parts == ["version"]:
            # The simulator says what it is, so clients (verify) never mistake it for a
            # cluster that runs workloads.
            self._send(200, {"major": "1", "minor": "34", "gitVersion": SIMULATOR_VERSION})
            return
        if parts in (["healthz"], ["readyz"], ["livez"]):
            self._send(200, {"status": "ok"})
            return
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiFailure(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            types = [
                t for t in state.resource_types() if t.group == group and t.version == version
            ]
            if not types:
                raise ApiFailure(
                    404, "NotFound", "the server could not find the requested resource"
                )
            resources = [entry for t in types for entry in t.discovery()]
            gv = f"{group}/{version}" if group else version
            self._send(
                200, {"kind": "APIResourceList", "groupVersion": gv, "resources": resources}
            )
            return
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
        sub = rest[2] if len(rest) > 2 else None
        with state.lock:
            rtype = state.find_type(group, version, plural)
            self._warning = state.deprecations.get((group, version, plural))
        if (group, version, plural) == ("", "v1", "endpoints"):
            # What kube-apiserver v1.33+ (this simulator says 1.34) sends for v1 Endpoints.
            self._warning = ENDPOINTS_DEPRECATED
        if rtype is None:
            raise ApiFailure(404, "NotFound", "the server could not find the requested resource")
        if rtype.namespaced and name is not None and namespace is None:
            raise ApiFailure(404, "NotFound", "the server could not find the requested resource")
        ns = namespace or ""
        if method == "GET" and name is None:
            if query.get("watch") in ("true", "1"):
                self._watch(rtype, namespace, query)
            else:
                self._send(200, state.list(rtype, namespace, query.get("labelSelector", "")))
        elif method == "GET":
            self._send(200, state.get(rtype, ns, name))
        elif method == "PATCH" and name and sub is None:
            ctype = self.headers.get("Content-Type", "")
            if "apply-patch" not in ctype:
                raise ApiFailure(415, "UnsupportedMediaType", f"{ctype} is not supported")
            manager = query.get("fieldManager")
            if not manager:
                raise ApiFailure(
                    400,
                    "BadRequest",
                    "PATCH, application/apply-patch+yaml: fieldManager "
                    "is required for apply requests",
                )
            config = _parse(body)
            obj, created = state.apply(
                rtype,
                ns,
                name,
                config,
                manager=manager,
                force=query.get("force") == "true",
                dry_run=query.get("dryRun") == "All",
            )
            self._send(201 if created else 200, obj)
        elif method == "POST" and name is None:
            config = _parse(body)
            cname = (config.get("metadata") or {}).get("name")
            if not cname:
                raise ApiFailure(422, "Invalid", "metadata.name: Required value")
            obj, _ = state.apply(
                rtype,
                ns,
                cname,
                config,
                manager=query.get("fieldManager", "before-first-apply"),
                force=False,
                dry_run=query.get("dryRun") == "All",
                create_only=True,
            )
            self._send(201, obj)
        elif method == "DELETE" and name:
            self._send(200, state.delete(rtype, ns, name))
        else:
            raise ApiFailure(405, "MethodNotAllowed", f"{method} is not supported here")

    def _watch(self, rtype: ResourceType, namespace: str | None, query: dict[str, str]) -> None:
        state = self.cluster.state
        since = int(query.get("resourceVersion") or 0)
        selector = query.get("labelSelector", "")
        deadline = time.monotonic() + float(query.get("timeoutSeconds") or 300)
        with state.lock:
            if since == 0:
                # No resourceVersion: synthetic ADDED events for what exists, then follow.
                listed = state.list(rtype, namespace, selector)
                backlog = [(0, "ADDED", o) for o in listed["items"]]
                since = int(listed["metadata"]["resourceVersion"])
            else:
                backlog = state.events_since(rtype, namespace, selector, since)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self._send_warning()
        # The connection is closed when the watch ends (below); saying so keeps clients
        # from pooling it and failing their next request on it (RemoteDisconnected).
        self.send_header("Connection", "close")
        self.end_headers()
        self.cluster.requests.append(("WATCH", self.path, 200))
        try:
            while not self.cluster._stop.is_set() and not self.cluster.down:
                for rv, kind, obj in backlog:
                    self._chunk(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
                    since = max(since, rv)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with state.lock:
                    backlog = state.events_since(rtype, namespace, selector, since)
                    if not backlog:
                        state.changed.wait(timeout=min(remaining, 0.5))
                        backlog = state.events_since(rtype, namespace, selector, since)
            self._chunk(b"")
        except ApiFailure as exc:
            self._chunk(json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n")
            self._chunk(b"")
        except OSError:
            pass
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _parse(body: bytes) -> dict[str, Any]:
    try:
        # Clients send JSON (a subset of YAML) almost always; parse it the fast way.
        doc = json.loads(body) if body[:1] == b"{" else yaml.safe_load(body.decode() or "{}")
    except (ValueError, yaml.YAMLError) as exc:
        raise ApiFailure(400, "BadRequest", f"error decoding YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ApiFailure(400, "BadRequest", "the body must be an object")
    return doc


def _group_list(types: list[ResourceType]) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for t in types:
        if t.group:
            versions = groups.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
            }
            for g, vs in sorted(groups.items())
        ],
    }
