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

Host keys. Each host's `host_key` reaches Terraform's `connection { host_key }` and a
known_hosts file kfstack writes for its own ssh (`StrictHostKeyChecking=yes`, no other
known_hosts consulted). Right before Terraform changes anything, `check_before_apply`
reads every pinned host's keys with ssh-keyscan and stops on a host that presents
another key, or a key type Terraform's client would not negotiate (see
`installer.hostkeys`), so a wrong key fails in seconds with nothing changed rather than
after Terraform's five minutes of retries. `explain_failure` turns Terraform's own
"knownhosts: key mismatch" into the same message. With `host_key_checking: accept-new`,
hosts without a key keep the old behaviour: Terraform checks nothing, kfstack's ssh
trusts the first key it sees and remembers it in `<workdir>/known_hosts.learned`.
"""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from installer import hostkeys, redact, tools
from installer.errors import KfstackError, ToolError
from installer.hostkeys import HostKeyMismatchError
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
    host_key: str | None = None
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
                    host_key=hostkeys.parse(host.host_key).line if host.host_key else None,
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
        dest.parent.mkdir(parents=True, exist_ok=True)
        remote = ([] if host.user == "root" else ["sudo", "-n"]) + ["cat", K3S_KUBECONFIG]
        options = {
            "BatchMode": "yes",
            "ConnectTimeout": str(SSH_TIMEOUT_SECONDS // 4),
            **self._host_key_options(host, dest.parent),
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
        if proc.returncode != 0 and "Host key verification failed" in proc.stderr:
            raise self._ssh_mismatch(host, command, proc)
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

    # ------------------------------------------------------------------ host keys

    def _field(self, host: BaremetalHost) -> str:
        return f"baremetal.hosts[{self._block.hosts.index(host)}].host_key"

    def _host_key_options(self, host: BaremetalHost, directory: Path) -> dict[str, str]:
        """OpenSSH options that accept only the spec's key for `host`, from a known_hosts
        file written here from the spec; with accept-new and no key, trust on first use
        in a file of its own, so the spec's file stays exactly the spec."""
        known_hosts = directory / "known_hosts"
        pinned = [h for h in self._block.hosts if h.host_key is not None]
        known_hosts.write_text(
            "".join(
                hostkeys.known_hosts_line(h.address, h.port, hostkeys.parse(h.host_key)) + "\n"
                for h in pinned
                if h.host_key is not None
            )
        )
        options = {"GlobalKnownHostsFile": "/dev/null"}
        if host.host_key is not None:
            return {
                **options,
                "StrictHostKeyChecking": "yes",
                "UserKnownHostsFile": str(known_hosts),
            }
        return {
            **options,
            "StrictHostKeyChecking": "accept-new",
            "UserKnownHostsFile": str(directory / "known_hosts.learned"),
        }

    def _ssh_mismatch(
        self, host: BaremetalHost, command: list[str], proc: subprocess.CompletedProcess[str]
    ) -> HostKeyMismatchError:
        presented = hostkeys.presented_fingerprint(proc.stderr)
        sent = f"; the host sent {presented}" if presented else ""
        where = f"{host.name} ({host.address}:{host.port})"
        if host.host_key is None:
            return HostKeyMismatchError(
                f"the SSH host key of {where} changed since kfstack first connected and "
                f"trusted it (baremetal.host_key_checking: accept-new){sent}",
                host=host.name,
                field=self._field(host),
                expected=None,
                presented=presented,
                command=command,
                exit_code=proc.returncode,
                stderr_tail=proc.stderr,
                hint=hostkeys.mismatch_hint(self._field(host), "`kfstack hostkeys`"),
            )
        expected = hostkeys.parse(host.host_key)
        return HostKeyMismatchError(
            f"the SSH host key of {where} is not the one pinned in {self._field(host)}: "
            f"expected {expected.describe()}{sent}",
            host=host.name,
            field=self._field(host),
            expected=expected.fingerprint,
            presented=presented,
            command=command,
            exit_code=proc.returncode,
            stderr_tail=proc.stderr,
            hint=hostkeys.mismatch_hint(self._field(host), "`kfstack hostkeys`"),
        )

    def check_before_apply(self) -> None:
        """Stop before Terraform connects when a pinned host presents another key.

        Every host with a `host_key` is read with ssh-keyscan (no login). The key that
        counts is the one Terraform's SSH client negotiates (`hostkeys.terraform_choice`),
        so a pin of another type the host also has is named as such. A host that does not
        answer is left to Terraform, which waits for hosts that are still booting.

        Raises:
            ToolMissingError: ssh-keyscan is not on PATH.
            HostKeyMismatchError: a host presents another key than its pinned one.
        """
        for host in self._block.hosts:
            if host.host_key is None:
                continue
            expected = hostkeys.parse(host.host_key)
            found = hostkeys.scan(host.address, host.port)
            chosen = hostkeys.terraform_choice(found.keys)
            if chosen is None:
                LOG.warning(
                    "cannot read the host key of %s before apply (%s); Terraform checks it",
                    host.name,
                    found.error,
                )
                continue
            if chosen == expected:
                LOG.debug("%s presents its pinned key %s", host.name, expected.describe())
                continue
            where = f"{host.name} ({host.address}:{host.port})"
            field = self._field(host)
            if expected in found.keys:
                raise HostKeyMismatchError(
                    f"{field} pins the {expected.label} key of {where}, but the host also has "
                    f"an {chosen.label} key ({chosen.fingerprint}) and Terraform's SSH client "
                    f"asks for {chosen.label} first, so Terraform would refuse the host",
                    host=host.name,
                    field=field,
                    expected=expected.fingerprint,
                    presented=chosen.fingerprint,
                    command=found.command,
                    hint=f"pin the host's {chosen.label} key instead: `kfstack hostkeys` shows "
                    "it with its fingerprint; Terraform cannot be told which key type to ask for",
                )
            raise HostKeyMismatchError(
                f"the SSH host key of {where} is not the one pinned in {field}: expected "
                f"{expected.describe()}, the host presents {chosen.describe()}; nothing was "
                "changed",
                host=host.name,
                field=field,
                expected=expected.fingerprint,
                presented=chosen.fingerprint,
                command=found.command,
                hint=hostkeys.mismatch_hint(field, "`kfstack hostkeys`"),
            )

    def explain_failure(self, error: ToolError) -> KfstackError:
        """Terraform's "knownhosts: key mismatch" as a `HostKeyMismatchError` naming the
        host, the pinned key's fingerprint and the fix; any other error unchanged."""
        match = _TF_MISMATCH.search(error.message)
        if match is None:
            return error
        address, port = match.group("address"), int(match.group("port"))
        host = next((h for h in self._block.hosts if (h.address, h.port) == (address, port)), None)
        if host is None or host.host_key is None:
            # A host removed from the spec: the key Terraform checked is in the state.
            return HostKeyMismatchError(
                f"Terraform refused the SSH host key of {address}:{port}: it is not the key "
                "pinned when that host was installed",
                host=address,
                field="baremetal.hosts[].host_key",
                expected=None,
                command=error.command,
                exit_code=error.returncode,
                hint="compare the host's key with its console; `kfstack hostkeys` shows the "
                "keys of the hosts in the spec",
            )
        expected = hostkeys.parse(host.host_key)
        field = self._field(host)
        return HostKeyMismatchError(
            f"Terraform refused the SSH host key of {host.name} ({address}:{port}): it is not "
            f"the one pinned in {field} (expected {expected.describe()}); Terraform's SSH "
            "client asks for an ECDSA key first, then RSA, then ED25519",
            host=host.name,
            field=field,
            expected=expected.fingerprint,
            command=error.command,
            exit_code=error.returncode,
            hint=hostkeys.mismatch_hint(field, "`kfstack hostkeys`"),
        )


# Terraform's wording: internal/communicator/ssh/communicator.go, Connect(),
# "SSH authentication failed (%s@%s): %s" with user and net.JoinHostPort(host, port).
_TF_MISMATCH = re.compile(
    r"SSH authentication failed \([^@\s]+@\[?(?P<address>[^\s\]]+?)\]?:(?P<port>\d+)\): "
    r"ssh: handshake failed: knownhosts: key mismatch"
)


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
