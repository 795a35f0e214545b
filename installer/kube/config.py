"""Kubeconfig loading: the server, its CA, and how kfstack authenticates.

Supports what the clusters kfstack builds hand out: CA data or file, client
certificate and key (data or files), a bearer token (inline or file), and an exec
credential plugin (EKS's `aws eks get-token` or `kfstack eks-token`), whose token is
cached until shortly before its expiry.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import logging
import os
import ssl
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from installer import redact
from installer.errors import KfstackError, UserError

LOG = logging.getLogger("kfstack.kube")


@dataclass
class ExecPlugin:
    command: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    api_version: str = "client.authentication.k8s.io/v1beta1"


@dataclass
class KubeConfig:
    server: str
    context: str
    ca_data: bytes | None = None
    insecure: bool = False
    client_cert: bytes | None = None
    client_key: bytes | None = None
    token: str | None = None
    token_file: str | None = None
    exec_plugin: ExecPlugin | None = None
    _cached: tuple[str, float] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def bearer_token(self) -> str | None:
        """The token to send, running the exec plugin when the cached one is stale.

        Raises:
            KfstackError: the exec plugin failed or printed no token.
        """
        if self.token:
            return self.token
        if self.token_file:
            return Path(self.token_file).read_text().strip()
        if self.exec_plugin is None:
            return None
        with self._lock:
            now = _dt.datetime.now(_dt.UTC).timestamp()
            if self._cached and self._cached[1] - 60 > now:
                return self._cached[0]
            token, expiry = _run_exec(self.exec_plugin)
            self._cached = (token, expiry or now + 600)
            return token

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https"):
            return None
        ctx = ssl.create_default_context()
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_data:
            ctx.load_verify_locations(cadata=self.ca_data.decode())
        if self.client_cert and self.client_key:
            # ssl can only load a key pair from files; keep them 0600 for the moment it
            # takes and remove them at once.
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = Path(tmp) / "c.pem", Path(tmp) / "k.pem"
                for path, data in ((cert, self.client_cert), (key, self.client_key)):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(data)
                ctx.load_cert_chain(str(cert), str(key))
        return ctx


def load_kubeconfig(path: Path | str, *, context: str | None = None) -> KubeConfig:
    """Read a kubeconfig and resolve one context (the current one unless `context`).

    Raises:
        UserError: the file is missing, malformed, or lacks the context/cluster/user.
    """
    path = Path(os.path.expanduser(str(path)))
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise UserError(
            f"cannot read kubeconfig {path} ({exc.strerror})",
            hint="apply the infrastructure first or pass --kubeconfig",
        ) from None
    except yaml.YAMLError as exc:
        raise UserError(f"kubeconfig {path} is not valid YAML ({exc})") from None
    name = context or doc.get("current-context")
    if not name:
        raise UserError(f"kubeconfig {path} has no current-context", hint="pass --context")
    ctx = _named(doc, "contexts", name, path).get("context") or {}
    cluster = _named(doc, "clusters", ctx.get("cluster"), path).get("cluster") or {}
    user = _named(doc, "users", ctx.get("user"), path).get("user") or {} if ctx.get("user") else {}
    base = path.parent
    cfg = KubeConfig(
        server=str(cluster.get("server", "")).rstrip("/"),
        context=name,
        ca_data=_data(cluster, "certificate-authority", base),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        client_cert=_data(user, "client-certificate", base),
        client_key=_data(user, "client-key", base),
        token=user.get("token"),
        token_file=user.get("tokenFile"),
    )
    if not cfg.server:
        raise UserError(f"kubeconfig {path}: cluster of context {name!r} has no server")
    if user.get("exec"):
        spec = user["exec"]
        cfg.exec_plugin = ExecPlugin(
            command=spec["command"],
            args=list(spec.get("args") or []),
            env={e["name"]: e["value"] for e in spec.get("env") or []},
            api_version=spec.get("apiVersion", ExecPlugin.api_version),
        )
    if cfg.token:
        redact.register(cfg.token)
    return cfg


def _named(doc: dict[str, Any], section: str, name: str | None, path: Path) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if entry.get("name") == name:
            return entry
    raise UserError(
        f"kubeconfig {path}: no {section[:-1]} named {name!r}",
        hint=f"choose one of: {', '.join(e.get('name', '?') for e in doc.get(section) or [])}",
    )


def _data(section: dict[str, Any], key: str, base: Path) -> bytes | None:
    if section.get(f"{key}-data"):
        return base64.b64decode(section[f"{key}-data"])
    if section.get(key):
        file = Path(os.path.expanduser(section[key]))
        return (file if file.is_absolute() else base / file).read_bytes()
    return None


def _run_exec(plugin: ExecPlugin) -> tuple[str, float | None]:
    env = dict(os.environ)
    env.update(plugin.env)
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {
            "apiVersion": plugin.api_version,
            "kind": "ExecCredential",
            "spec": {"interactive": False},
        }
    )
    command = [plugin.command, *plugin.args]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    except FileNotFoundError:
        raise UserError(
            f"kubeconfig exec plugin {plugin.command!r} is not installed",
            hint="install it or regenerate the kubeconfig with `kfstack kubeconfig`",
        ) from None
    if proc.returncode != 0:
        raise KfstackError(
            f"kubeconfig exec plugin failed: {' '.join(command)} (exit {proc.returncode}): "
            f"{proc.stderr.strip()[-400:]}"
        )
    try:
        status = json.loads(proc.stdout)["status"]
        token = status["token"]
    except (ValueError, KeyError, TypeError):
        raise KfstackError(
            f"kubeconfig exec plugin {' '.join(command)} printed no ExecCredential token"
        ) from None
    redact.register(token)
    expiry = None
    if status.get("expirationTimestamp"):
        stamp = status["expirationTimestamp"].replace("Z", "+00:00")
        expiry = _dt.datetime.fromisoformat(stamp).timestamp()
    LOG.debug("exec plugin %s returned a token", plugin.command)
    return token, expiry
