"""Bare metal: k3s on machines the user owns, installed over SSH by Terraform.

The root configuration calls one HCL module, `modules/baremetal-k3s`, whose only
resources are Terraform's built-in `terraform_data` with `file`/`remote-exec`
provisioners, so no provider is downloaded. The spec reaches it through typed models:

    spec.baremetal.hosts[*]   → K3sHost, keyed by host name  → variable `hosts`
    first host with role server                              → variable `init_server`
    spec.baremetal.airgap     → K3sAirgap (absolute paths)   → variable `airgap`
    SecretStore "k3s-token"   → root variable `k3s_token` (sensitive, TF_VAR_k3s_token)
    spec.state                → terraform.backend (local, or the built-in s3/gcs/azurerm)

The token is generated once per environment and never written into the root: the runner
passes `secret_variables()` as environment variables. After apply, `write_kubeconfig`
reads `/etc/rancher/k3s/k3s.yaml` from the init server with the OpenSSH client, points
it at the API address instead of 127.0.0.1, names it after the cluster, and writes it
0600. The same model computes the GPU pools before apply (`pending_outputs`); the
integration test checks they equal the module's `gpu_pools` output.
"""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from installer import redact, tools
from installer.errors import KfstackError, ToolError
from installer.secrets import SecretStore
from installer.spec import paths as spec_paths
from installer.spec.model import GPU_TAINT, BaremetalHost, BaremetalTarget
from installer.workdir import write_private
from stacks.base import GpuPoolOutput, InfraOutputs, Stack, terraform_block
from stacks.pools import LABEL_GPU_MODEL

LOG = logging.getLogger("kfstack.stacks.baremetal")

MODULE = "baremetal-k3s"
TOKEN_SECRET_ID = "k3s-token"
TOKEN_VARIABLE = "k3s_token"
# Letters and digits only: the module's validation accepts nothing else, and k3s would
# otherwise need the value quoted in its service environment file.
TOKEN_LENGTH = 48
K3S_KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
API_PORT = 6443
SSH_TIMEOUT_SECONDS = 60


class K3sHost(BaseModel):
    """One entry of the module's `hosts` variable."""

    model_config = ConfigDict(extra="forbid")

    address: str
    port: int
    user: str
    ssh_key: str
    role: Literal["server", "agent"]
    gpu_model: str | None = None
    gpu_count: int = 1
    labels: dict[str, str] = Field(default_factory=dict)


class K3sAirgap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    binary: str
    images: str
    install_script: str


class K3sInputs(BaseModel):
    """The module's inputs, except the token (a root variable, never in the document)."""

    model_config = ConfigDict(extra="forbid")

    cluster_name: str
    k3s_version: str
    hosts: dict[str, K3sHost]
    init_server: str
    api_address: str | None = None
    airgap: K3sAirgap | None = None


def gpu_pool_name(model: str) -> str:
    """`A100-80GB` → `gpu-a100-80gb` (the module's output uses the same rule)."""
    return "gpu-" + re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")


class BaremetalStack(Stack):
    target = "baremetal"

    @property
    def _block(self) -> BaremetalTarget:
        block = self.spec.baremetal
        assert block is not None  # guaranteed by rules.check_structure
        return block

    @property
    def init_server(self) -> BaremetalHost:
        """The first host with role server: it initialises the cluster, the others join it."""
        return next(host for host in self._block.hosts if host.role == "server")

    @property
    def api_address(self) -> str:
        return self._block.api_address or self.init_server.address

    def local_path(self, value: str) -> str:
        """A local path of the spec, absolute: Terraform reads it from the root's own
        directory (relative paths are the spec's folder's, see installer.spec.paths)."""
        return str(self.spec.local_path(value).resolve())

    def check_access(self) -> None:
        """Check that the air-gap files exist, before Terraform's own check of them (which
        names only the variable). SSH keys are not checked: a plan runs without them.

        Raises:
            UserError: an air-gap file is missing; names the field and both paths.
        """
        airgap = self._block.airgap
        for name in ("binary", "images", "install_script"):
            value = getattr(airgap, name) if airgap is not None else None
            if value and not self.spec.local_path(value).is_file():
                raise spec_paths.not_found(f"baremetal.airgap.{name}", value, self.spec.base_dir)

    def inputs(self) -> K3sInputs:
        block = self._block
        airgap = None
        if block.airgap is not None:
            # rules._check_baremetal insists on install_script in air-gap mode.
            assert block.airgap.install_script is not None
            airgap = K3sAirgap(
                binary=self.local_path(block.airgap.binary),
                images=self.local_path(block.airgap.images),
                install_script=self.local_path(block.airgap.install_script),
            )
        return K3sInputs(
            cluster_name=self.spec.full_name,
            k3s_version=block.version,
            hosts={
                host.name: K3sHost(
                    address=host.address,
                    port=host.port,
                    user=host.user,
                    ssh_key=self.local_path(host.ssh_key),
                    role=host.role,
                    gpu_model=host.gpu,
                    gpu_count=host.gpu_count,
                    labels=host.labels,
                )
                for host in block.hosts
            },
            init_server=self.init_server.name,
            api_address=block.api_address,
            airgap=airgap,
        )

    def module_names(self) -> list[str]:
        return [MODULE]

    def documents(self) -> dict[str, dict[str, Any]]:
        module = self.inputs().model_dump(exclude_none=True)
        module["source"] = f"./modules/{MODULE}"
        module["token"] = f"${{var.{TOKEN_VARIABLE}}}"
        outputs = ("cluster_name", "endpoint", "init_server", "node_pools", "gpu_pools")
        terraform = terraform_block(self.spec, {}, required_version=">= 1.5")
        return {
            "main.tf.json": {
                "terraform": terraform,
                "variable": {
                    TOKEN_VARIABLE: {
                        "type": "string",
                        "sensitive": True,
                        "description": "k3s cluster token; kfstack passes it as "
                        f"TF_VAR_{TOKEN_VARIABLE} from the environment's secret store",
                    }
                },
                "module": {"k3s": module},
                "output": {
                    **{name: {"value": f"${{module.k3s.{name}}}"} for name in outputs},
                    "load_balancer": {"value": False},
                },
            }
        }

    def secret_variables(self, secrets: SecretStore) -> dict[str, str]:
        return {TOKEN_VARIABLE: secrets.generated(TOKEN_SECRET_ID, length=TOKEN_LENGTH)}

    def gpu_pools(self) -> list[GpuPoolOutput]:
        """One pool per GPU model; `gpu_count` is what every host in the group has."""
        by_model: dict[str, list[BaremetalHost]] = {}
        for host in self._block.hosts:
            if host.gpu is not None:
                by_model.setdefault(host.gpu, []).append(host)
        return [
            GpuPoolOutput(
                name=gpu_pool_name(model),
                gpu_model=model,
                gpu_count=min(host.gpu_count for host in hosts),
                hosts=sorted(host.name for host in hosts),
                labels={LABEL_GPU_MODEL: model, "nvidia.com/gpu.present": "true"},
                taints=[GPU_TAINT.model_dump()],
                driver="host",
            )
            for model, hosts in sorted(by_model.items())
        ]

    def pending_outputs(self) -> InfraOutputs:
        # Everything is known from the spec before apply; only reachability is not.
        return InfraOutputs(
            target=self.target,
            cluster_name=self.spec.full_name,
            endpoint=f"https://{self.api_address}:{API_PORT}",
            node_pools=sorted(host.name for host in self._block.hosts),
            gpu_pools=self.gpu_pools(),
            load_balancer=False,
        )

    def write_kubeconfig(self, outputs: InfraOutputs, dest: Path) -> Path:
        """Read k3s's kubeconfig from the init server over SSH and write it 0600 to `dest`.

        The server URL becomes `outputs.endpoint` and the `default` cluster, user and
        context take the cluster's name, so it can sit beside other kubeconfigs.

        Raises:
            ToolMissingError: no OpenSSH client on PATH.
            ToolError: SSH failed (unreachable host, rejected key, no k3s on it).
            KfstackError: the file on the server is not a kubeconfig.
        """
        host = self.init_server
        ssh = tools.require("ssh", purpose="fetching the kubeconfig from the k3s server")
        known_hosts = dest.parent / "known_hosts"
        dest.parent.mkdir(parents=True, exist_ok=True)
        remote = ([] if host.user == "root" else ["sudo", "-n"]) + ["cat", K3S_KUBECONFIG]
        options = {
            "BatchMode": "yes",
            "ConnectTimeout": str(SSH_TIMEOUT_SECONDS // 4),
            # Trust on first use, pinned afterwards in the environment's own file.
            "StrictHostKeyChecking": "accept-new",
            "UserKnownHostsFile": str(known_hosts),
        }
        command = [ssh.path, *(f"-o{key}={value}" for key, value in options.items())]
        command += ["-i", self.local_path(host.ssh_key), "-p", str(host.port)]
        command += [f"{host.user}@{host.address}", *remote]
        LOG.debug("fetching %s from %s: %s", K3S_KUBECONFIG, host.name, command)
        try:
            proc = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=SSH_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ToolError(
                f"ssh to {host.name} ({host.address}) took more than {SSH_TIMEOUT_SECONDS}s",
                command=command,
                hint=f"check that {host.address}:{host.port} is reachable from this machine",
            ) from None
        if proc.returncode != 0:
            raise ToolError(
                f"cannot read {K3S_KUBECONFIG} from {host.name} ({host.address})",
                command=command,
                exit_code=proc.returncode,
                stderr_tail=proc.stderr,
                hint=f"check that {host.user}@{host.address} accepts {host.ssh_key} and that "
                "k3s is installed (`kfstack apply`)",
            )
        config = _retarget(proc.stdout, outputs.endpoint or self.pending_outputs().endpoint)
        named = _rename(config, outputs.cluster_name or self.spec.full_name)
        write_private(dest, yaml.safe_dump(named, sort_keys=False))
        LOG.info("kubeconfig for %s written to %s", named["current-context"], dest)
        return dest


def _retarget(text: str, endpoint: str | None) -> dict[str, Any]:
    """Parse k3s.yaml, register its credentials for redaction, point it at `endpoint`.

    Raises:
        KfstackError: not a kubeconfig with at least one cluster.
    """
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        config = None
    if not isinstance(config, dict) or not config.get("clusters"):
        raise KfstackError(
            f"{K3S_KUBECONFIG} on the k3s server is not a kubeconfig",
            hint="look at the file on the server; re-run `kfstack apply` to reinstall k3s",
        )
    for user in config.get("users") or []:
        for key in ("client-key-data", "token", "password"):
            redact.register((user.get("user") or {}).get(key))
    for cluster in config["clusters"]:
        if endpoint:
            cluster["cluster"]["server"] = endpoint
    return config


def _rename(config: dict[str, Any], name: str) -> dict[str, Any]:
    """Rename k3s's `default` cluster, user and context to `name`."""

    def renamed(value: str) -> str:
        return name if value == "default" else value

    for section in ("clusters", "users", "contexts"):
        for entry in config.get(section) or []:
            entry["name"] = renamed(entry["name"])
    for entry in config.get("contexts") or []:
        context = entry.get("context") or {}
        for key in ("cluster", "user"):
            if key in context:
                context[key] = renamed(context[key])
    config["current-context"] = renamed(config.get("current-context") or "default")
    return config


STACK_CLASS = BaremetalStack
