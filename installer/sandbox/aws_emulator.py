"""A local AWS API for the sandbox and the tests: moto's server, with EKS made faithful.

This is an emulator stand-in for AWS, not AWS. It runs `moto.server.ThreadedMotoServer`
in this process on an ephemeral port, so the real `terraform` binary with the real AWS
provider, and boto3, can provision the EKS stack against it through the standard
`AWS_ENDPOINT_URL` (no switch in the product's configuration).

Two things are set up so the emulator behaves as AWS does for our stack
(measured with terraform 1.11.4 and provider 5.100.0, see shared/aws-emulator-notes.md):

- `MOTO_IAM_LOAD_MANAGED_POLICIES=true`: AWS managed policies such as
  `AmazonEKSClusterPolicy` exist in moto only with it; without it attaching them fails.
- Four EKS corrections, patched into moto's models while the emulator runs. Each one
  otherwise makes an immediate second `plan` show drift that real EKS never shows:
  1. a node group created without `remoteAccess` came back with moto's default
     `{"ec2SshKey": "eksKeypair"}`, and Terraform planned to replace the node group;
     real EKS returns no remote access, so we keep what was sent (nothing);
  2. the cluster's `accessConfig` (authentication mode, bootstrap admin permissions)
     was accepted but not stored, so it was planned again on every run; we store the
     configuration that was sent and return it, as EKS does;
  3. node groups reported Kubernetes 1.19 whatever the cluster ran; a node group
     created without a version takes its cluster's version, as on EKS.
  4. `DescribeUpdate` is not implemented (404), so changing a node group's scaling
     failed while Terraform waited for the update moto had already applied; the
     updates moto returns are kept and served back with their status.

moto keeps its state in process memory, so `AwsEmulator.stop()` followed by `start()`
on the same object serves the same resources on the same port: that is how the tests
emulate an API outage in the middle of an apply. EKS add-ons, access entries and pod
identity associations are not implemented by moto; the sandbox uses
`aws.addons: self-managed`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from installer.errors import UserError

LOG = logging.getLogger("kfstack.sandbox.aws_emulator")

# The fake credentials moto accepts; they are not secrets.
EMULATOR_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}

_INSTALL_HINT = "pip install 'kfstack[sandbox]'"
_MISSING = object()


def _import_moto() -> Any:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise UserError(
            "the AWS sandbox needs moto's server, which is not installed",
            hint=_INSTALL_HINT,
        ) from None
    return ThreadedMotoServer


class _EksCorrections:
    """Patch (and later restore) moto's EKS model so it answers as EKS does."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def _replace(self, owner: Any, name: str, value: Any) -> None:
        self._saved.append((owner, name, owner.__dict__.get(name, _MISSING)))
        setattr(owner, name, value)

    def apply(self) -> None:
        from moto.eks import models, responses, urls

        original_nodegroup_init = models.Nodegroup.__init__

        def nodegroup_init(self: Any, *args: Any, **kwargs: Any) -> None:
            original_nodegroup_init(self, *args, **kwargs)
            # Correction 1: no invented SSH key when none was asked for.
            self.remote_access = kwargs.get("remote_access")

        original_create_nodegroup = models.EKSBackend.create_nodegroup

        def create_nodegroup(self: Any, *args: Any, **kwargs: Any) -> Any:
            # Correction 3: the node group runs its cluster's Kubernetes version.
            cluster = self.clusters.get(kwargs.get("cluster_name"))
            if not kwargs.get("version") and cluster is not None:
                kwargs["version"] = cluster.version
            return original_create_nodegroup(self, *args, **kwargs)

        original_create_cluster = responses.EKSResponse.create_cluster
        original_update_cluster = responses.EKSResponse.update_cluster_config

        def remember_access_config(response: Any) -> None:
            # Correction 2: keep the access configuration that was sent.
            sent = response._get_param("accessConfig")
            if not sent:
                return
            cluster = response.eks_backend.clusters.get(response._get_param("name"))
            if cluster is None:
                return
            stored = dict(getattr(cluster, "access_config", None) or {})
            stored.update(sent)
            stored.setdefault("authenticationMode", "CONFIG_MAP")
            cluster.access_config = stored

        def create_cluster(self: Any) -> Any:
            result = original_create_cluster(self)
            remember_access_config(self)
            return result

        def update_cluster_config(self: Any) -> Any:
            result = original_update_cluster(self)
            remember_access_config(self)
            return result

        original_update_nodegroup = models.EKSBackend.update_nodegroup_config

        def update_nodegroup_config(self: Any, *args: Any, **kwargs: Any) -> Any:
            # Correction 4: remember the update so DescribeUpdate can answer for it.
            update = original_update_nodegroup(self, *args, **kwargs)
            self.__dict__.setdefault("kfstack_updates", {})[update["id"]] = update
            return update

        def describe_update(self: Any) -> Any:
            updates = self.eks_backend.__dict__.get("kfstack_updates", {})
            update = updates.get(self._get_param("updateId"))
            if update is None:
                raise models.ResourceNotFoundException(
                    clusterName=self._get_param("name"),
                    nodegroupName=self._get_param("nodegroupName"),
                    fargateProfileName=None,
                    addonName=None,
                    message="No update found",
                )
            return responses.ActionResult({"update": update})

        paths = dict(urls.url_paths)
        paths["{0}/clusters/(?P<name>[^/]+)/updates/(?P<updateId>[^/]+)$"] = urls.response.dispatch
        self._replace(urls, "url_paths", paths)
        self._replace(models.EKSBackend, "update_nodegroup_config", update_nodegroup_config)
        self._replace(responses.EKSResponse, "describe_update", describe_update)
        self._replace(models.Nodegroup, "__init__", nodegroup_init)
        self._replace(models.EKSBackend, "create_nodegroup", create_nodegroup)
        self._replace(responses.EKSResponse, "create_cluster", create_cluster)
        self._replace(responses.EKSResponse, "update_cluster_config", update_cluster_config)

    def restore(self) -> None:
        while self._saved:
            owner, name, value = self._saved.pop()
            if value is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, value)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


PORT_WAIT_SECONDS = 30.0


def _wait_bindable(host: str, port: int, seconds: float) -> None:
    """Return once `host:port` can be bound (as the server will, with SO_REUSEADDR).

    Raises:
        RuntimeError: still in use after `seconds`.
    """
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
                return
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"the AWS emulator cannot listen on {host}:{port}: {exc}"
                    ) from None
        time.sleep(0.2)


class AwsEmulator:
    """moto's server on 127.0.0.1 with the EKS corrections; start/stop keep state."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server_class = _import_moto()
        self.host = host
        self.port = port or _free_port(host)
        self._server: Any = None
        self._corrections = _EksCorrections()
        self._saved_env: str | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self, region: str = "us-west-2") -> dict[str, str]:
        """The standard AWS variables that point the provider and boto3 here."""
        return {
            **EMULATOR_ENV,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Start serving (again); moto's state from an earlier start is kept."""
        if self._server is not None:
            return
        if not self._corrections._saved:
            self._saved_env = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
            # Read when moto's IAM backend is created, i.e. on the first IAM request.
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
            self._corrections.apply()
        # werkzeug logs every request to stderr; the sandbox's console stays terse.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # moto's start() waits without a limit for its thread to bind; when the bind
        # fails (the port still held) that thread dies and start() would never return.
        _wait_bindable(self.host, self.port, PORT_WAIT_SECONDS)
        server = self._server_class(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        self._server = server
        LOG.info("AWS emulator (moto) serving on %s", self.endpoint)

    def stop(self) -> None:
        """Stop serving; the resources stay in memory for a later `start()`."""
        if self._server is None:
            return
        self._server.stop()
        # shutdown() ends serve_forever but leaves the listening socket open until the
        # server object is collected (request threads may still hold it), so a restart
        # on the same port could fail to bind: close it now.
        inner = getattr(self._server, "_server", None)
        if inner is not None:
            inner.server_close()
        self._server = None
        LOG.info("AWS emulator on %s stopped", self.endpoint)

    def reset(self) -> None:
        """Forget every resource (moto's reset API), e.g. between independent runs."""
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def close(self) -> None:
        """Stop serving and undo the patches and the environment change."""
        self.stop()
        self._corrections.restore()
        if self._saved_env is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = self._saved_env


@contextmanager
def aws_emulator(host: str = "127.0.0.1") -> Iterator[AwsEmulator]:
    """Run the emulator for the duration of the block; yields it (`.endpoint`, `.env()`).

    Raises:
        UserError: moto's server is not installed (hint: `pip install 'kfstack[sandbox]'`).
    """
    emulator = AwsEmulator(host)
    emulator.start()
    # moto's backends are process-wide: a new emulator must not see what an earlier one
    # in the same process created.
    emulator.reset()
    try:
        yield emulator
    finally:
        emulator.close()
