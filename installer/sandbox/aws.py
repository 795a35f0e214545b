"""A local AWS API emulator for the sandbox: moto's server, started and stopped by kfstack.

    with aws.emulator(region, reporter) as emu:
        subprocess.run(["terraform", "apply", ...], env=emu.child_env())

The server runs in this process (`moto.server.ThreadedMotoServer`) on 127.0.0.1 and an
ephemeral port. Its address and dummy credentials go only into the environment of the
child processes kfstack starts (`child_env()`); kfstack's own environment is left alone,
and the real AWS credentials a person may have are removed from the children's, so a
sandbox run cannot reach a real account.

Fidelity corrections. Measured against real EKS with terraform 1.11 and the AWS
provider 5.100 (see the team's aws-emulator notes), moto 5.2 differs in ways that make an
immediate second `terraform plan` show changes real EKS would not:
  1. a node group created without remote access reports moto's default
     `remoteAccess.ec2SshKey = "eksKeypair"` (Terraform then plans to replace it);
  2. the cluster's `accessConfig` is accepted but neither stored nor returned;
  3. node groups report Kubernetes 1.19 whatever the cluster's version.
The emulator corrects these in moto's EKS backend while it runs (and restores moto on
exit): no remote access unless sent, the access configuration kept as sent, and node
groups on the cluster's version. AWS managed IAM policies are loaded (the equivalent of
`MOTO_IAM_LOAD_MANAGED_POLICIES=true`), since the stack attaches them to its roles.
Known gaps that remain: EKS add-ons, access entries and pod identity associations (404
in moto); the sandbox stack must not rely on them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from installer.console import Reporter
from installer.errors import KfstackError, UserError

LOG = logging.getLogger("kfstack.sandbox.aws")

# Dummy credentials: moto accepts any pair; these name themselves in logs.
ACCESS_KEY_ID = "AKIAKFSTACKSANDBOX00"
SECRET_ACCESS_KEY = "kfstack-sandbox-not-a-real-secret"

# Variables that could point a child at a real account or a real endpoint.
_REAL_AWS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
)


@dataclass(frozen=True)
class Emulator:
    endpoint: str
    region: str

    def child_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for a child process that must talk to the emulator only."""
        env = dict(os.environ if base is None else base)
        for name in _REAL_AWS:
            env.pop(name, None)
        for name in [n for n in env if n.startswith("AWS_ENDPOINT_URL_")]:
            env.pop(name)  # a per-service endpoint would bypass the emulator
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
            AWS_REGION=self.region,
            AWS_DEFAULT_REGION=self.region,
            AWS_EC2_METADATA_DISABLED="true",
        )
        return env


def _moto() -> tuple[Any, Any, Any, Any]:
    try:
        from moto.core.config import default_user_config
        from moto.eks import models as eks_models
        from moto.eks import responses as eks_responses
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise UserError(
            f"the sandbox needs the AWS emulator moto ({exc.name} is not installed)",
            hint="pip install 'kfstack[sandbox]'",
        ) from None
    return ThreadedMotoServer, default_user_config, eks_models, eks_responses


@contextlib.contextmanager
def _eks_corrections(eks_models: Any, eks_responses: Any) -> Iterator[None]:
    backend_cls = eks_models.EKSBackend
    response_cls = eks_responses.EKSResponse
    original_nodegroup = backend_cls.create_nodegroup
    original_cluster = response_cls.create_cluster

    @functools.wraps(original_nodegroup)
    def create_nodegroup(self: Any, *args: Any, **kwargs: Any) -> Any:
        cluster = self.clusters.get(kwargs.get("cluster_name"))
        if kwargs.get("version") is None and cluster is not None:
            kwargs["version"] = cluster.version  # correction 3
        nodegroup = original_nodegroup(self, *args, **kwargs)
        if not kwargs.get("remote_access"):
            nodegroup.remote_access = None  # correction 1
        return nodegroup

    @functools.wraps(original_cluster)
    def create_cluster(self: Any) -> Any:
        result = original_cluster(self)
        _keep_access_config(self, self._get_param("name"), self._get_param("accessConfig"))
        return result

    def _keep_access_config(response: Any, name: str, config: dict[str, Any] | None) -> None:
        cluster = response.eks_backend.clusters.get(name)
        if cluster is not None:
            # correction 2; real EKS reports the default mode when none was sent
            cluster.access_config = config or {"authenticationMode": "CONFIG_MAP"}

    backend_cls.create_nodegroup = create_nodegroup
    response_cls.create_cluster = create_cluster
    try:
        yield
    finally:
        backend_cls.create_nodegroup = original_nodegroup
        response_cls.create_cluster = original_cluster


@contextlib.contextmanager
def emulator(region: str, reporter: Reporter | None = None) -> Iterator[Emulator]:
    """Run the AWS emulator for the duration of the block.

    Raises:
        UserError: moto is not installed (the `sandbox` extra).
        KfstackError: the emulator did not start.
    """
    server_cls, config, eks_models, eks_responses = _moto()
    reporter = reporter or Reporter()
    previous = dict(config.get("iam", {}))
    config.setdefault("iam", {})["load_aws_managed_policies"] = True
    server = server_cls(ip_address="127.0.0.1", port=0, verbose=False)
    # werkzeug logs every request to stderr unless its logger has a handler; keep the
    # console terse and the requests out of it (the debug log has our own lines).
    access_log = logging.getLogger("werkzeug")
    quiet = logging.NullHandler()
    access_log.addHandler(quiet)
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    try:
        with _eks_corrections(eks_models, eks_responses):
            server.start()
            host, port = server.get_host_and_port()
            emu = Emulator(endpoint=f"http://{host}:{port}", region=region)
            _reset(emu.endpoint)
            LOG.info("AWS emulator (moto) listening on %s", emu.endpoint)
            reporter.line(f"sandbox: AWS API emulator on {emu.endpoint} (nothing real is created)")
            try:
                yield emu
            finally:
                server.stop()
                LOG.info("AWS emulator stopped")
    finally:
        config["iam"] = previous
        access_log.removeHandler(quiet)
        access_log.setLevel(level)


def _reset(endpoint: str) -> None:
    # Backends live in this process; start from an empty account so IAM is rebuilt with
    # the managed policies and nothing from an earlier emulator in the process remains.
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30):
            pass
    except OSError as exc:
        raise KfstackError(f"the AWS emulator at {endpoint} did not answer: {exc}") from None
