"""A local stand-in for the KFP v2beta1 API behind the platform gateway, for client tests.

It serves the hand-written responses in `tests/data/kfp_v2beta1/` on an ephemeral port
and enforces what the real path enforces for these calls: a Bearer token is required
(401 otherwise), and a token may act only in its own team's namespace (403 with KFP's
PermissionDenied body otherwise). Each GET of a run returns the next state in the
scripted sequence, then repeats the last one.
"""

from __future__ import annotations

import json
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "kfp_v2beta1"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


class FakeKfp:
    def __init__(
        self, tokens: dict[str, str], run_states: list[str], *, tls: tuple[str, str] | None = None
    ) -> None:
        self.tokens = tokens  # token -> namespace it may use
        self.run_states = list(run_states)  # names of recorded run_* responses
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.experiments: list[dict[str, Any]] = []
        self.terminated: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls is not None:  # (certificate file, key file): the gateway's own certificate
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://localhost:{self.server.server_address[1]}/pipeline"

    def __enter__(self) -> FakeKfp:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urllib.parse.urlparse(handler.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length)) if length else None
        path = parsed.path.removeprefix("/pipeline")
        self.requests.append((method, path, body))
        auth = handler.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or token not in self.tokens:
            return self._send(handler, 401, {"code": 16, "message": "Unauthenticated"})
        namespace = query.get("namespace") or (body or {}).get("namespace")
        if namespace is not None and namespace != self.tokens[token]:
            return self._send(handler, 403, recorded("error_403"))
        if path == "/apis/v2beta1/runs" and method == "GET":
            return self._send(handler, 200, recorded("runs_list"))
        if path == "/apis/v2beta1/experiments" and method == "GET":
            found = {"experiments": self.experiments} if self.experiments else {}
            return self._send(handler, 200, found or recorded("experiments_empty"))
        if path == "/apis/v2beta1/experiments" and method == "POST":
            experiment = recorded("experiment_created") | {"namespace": namespace}
            self.experiments.append(experiment)
            return self._send(handler, 200, experiment)
        if path == "/apis/v2beta1/runs" and method == "POST":
            return self._send(handler, 200, recorded("run_pending"))
        if path.endswith(":terminate"):
            self.terminated.append(path.split("/")[-1].split(":")[0])
            return self._send(handler, 200, {})
        if path.startswith("/apis/v2beta1/runs/") and method == "GET":
            state = self.run_states.pop(0) if len(self.run_states) > 1 else self.run_states[0]
            return self._send(handler, 200, recorded(state))
        return self._send(handler, 404, {"code": 5, "message": f"no route {method} {path}"})
