"""`kfstack up --sandbox`: the whole flow on this machine, nothing real created.

Stand-ins, each said plainly on the console and in the result:
  - the AWS API is a local emulator (moto's server, `aws_emulator.AwsEmulator`), which
    the real `terraform` with the real AWS provider provisions the EKS stack into;
  - the Kubernetes API is kfstack's simulated cluster (`installer.simcluster`), whose
    nodes are the spec's node pools at their desired size; the install engine applies
    the real rendered platform to it, but no container ever runs there.

Both keep their state in `<workdir>/sandbox/` between runs (the emulator's backends are
pickled when it stops, the simulated cluster writes its own file), so a second
`up --sandbox` finds what the first one built, as it would on a real cloud, and is a
no-op. The AWS variables pointing at the emulator are set only while the sandbox runs,
and any real AWS credentials in the environment are hidden from it meanwhile, so a
sandbox run cannot reach a real account.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from installer.console import Reporter
from installer.errors import UserError
from installer.secrets import SecretStore
from installer.spec.model import SecretRef, Spec
from installer.up import Environment
from installer.workdir import Workdir, write_private
from stacks.base import InfraOutputs

LOG = logging.getLogger("kfstack.sandbox")

BANNER = "SANDBOX: nothing real is created (local AWS API emulator + simulated Kubernetes API)"
# The moto services the EKS stack touches; their in-memory backends are what we persist.
_SERVICES = ("ec2", "eks", "iam", "efs", "kms", "s3", "dynamodb", "sts", "elbv2", "logs")
# Hidden while the sandbox runs, so nothing can reach a real account.
_REAL_AWS_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CA_BUNDLE",
)
# Simulated time runs this much faster than the timing model's real-world figures.
CLOCK_SCALE = 0.02
NOT_RUN = (
    "pipelines, notebooks and GPU Jobs do not execute on the simulated cluster "
    "(no container runtime): their checks are reported not-run"
)


class SandboxSecretStore(SecretStore):
    """Referenced secrets that are not set get a generated stand-in, with a warning.

    A sandbox run creates nothing real, so an Okta or Google client secret it cannot
    find must not stop the demonstration; the stand-in is kept (0600) like any generated
    value and never used outside the sandbox's own work directory.
    """

    def __init__(self, directory: Path, reporter: Reporter, *, spec: Spec | None = None) -> None:
        super().__init__(directory, spec=spec)
        self.reporter = reporter

    def resolve(self, ref: SecretRef, *, field: str) -> str:
        try:
            return super().resolve(ref, field=field)
        except UserError as exc:
            self.reporter.warn(f"sandbox: {exc.message}; using a generated stand-in")
            name = re.sub(r"[^a-z0-9-]+", "-", ref.describe().lower()).strip("-")[:50]
            return self.generated(f"sandbox-{name}")


def sandbox_workdir(spec: Spec, spec_path: Path, override: str | None) -> Workdir:
    """The sandbox's own work directory, so sandbox state never mixes with a real one."""
    if override:
        return Workdir(Path(override).expanduser().resolve())
    return Workdir(Path(spec_path).resolve().parent / ".kfstack" / f"{spec.full_name}-sandbox")


def prepare_spec(spec: Spec, reporter: Reporter) -> Spec:
    """The spec as the sandbox runs it: local state and in-cluster CSI drivers.

    The emulator has no EKS managed add-ons and no real S3 behind a remote state, so the
    sandbox says so and uses what it can emulate; the configuration is otherwise the
    one a real apply would use.
    """
    sandboxed = spec.model_copy(deep=True)
    assert sandboxed.aws is not None
    if sandboxed.aws.addons != "self-managed":
        reporter.warn("sandbox: EKS managed add-ons are not emulated; CSI drivers go in-cluster")
        sandboxed.aws.addons = "self-managed"
    if sandboxed.state.backend != "local":
        reporter.warn(f"sandbox: {sandboxed.state.backend} state replaced by local state")
        sandboxed.state.backend = "local"
    if sandboxed.gitops.enabled and sandboxed.gitops.push:
        # A sandbox run's render names emulated resources: never publish it.
        reporter.warn("sandbox: gitops commits stay in the sandbox work directory (no push)")
        sandboxed.gitops.push = False
    return sandboxed


def environment(spec: Spec, workdir: Workdir, reporter: Reporter) -> Environment:
    """The `installer.up.Environment` of a sandbox run."""
    holder: dict[str, Any] = {}
    state_dir = workdir.root / "sandbox"

    @contextmanager
    def context() -> Iterator[None]:
        from installer.sandbox.aws_emulator import AwsEmulator

        state_dir.mkdir(parents=True, exist_ok=True)
        emulator = AwsEmulator()
        emulator.start()
        restored = _load_backends(state_dir / "aws-emulator.pickle")
        reporter.line(
            f"AWS API emulator on {emulator.endpoint}"
            + (" (state of the last sandbox run restored)" if restored else "")
        )
        saved = {name: os.environ.get(name) for name in (*_REAL_AWS_VARS, *_env_names())}
        for name in _REAL_AWS_VARS:
            os.environ.pop(name, None)
        os.environ.update(emulator.env(spec.region or "us-west-2"))
        if (state_dir / "cluster.json").exists():
            # A cluster from an earlier sandbox run: up, as a real one would be.
            start_cluster(None)
        try:
            yield
        finally:
            sim = holder.pop("sim", None)
            if sim is not None:
                sim.stop()
            _save_backends(state_dir / "aws-emulator.pickle")
            emulator.close()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def start_cluster(nodes: list[dict[str, Any]] | None) -> Any:
        from installer.simcluster import SimCluster

        sim = SimCluster(
            clock_scale=CLOCK_SCALE,
            nodes=nodes,
            state_file=state_dir / "cluster.json",
            # EKS answers a LoadBalancer Service with an ELB host name in its region.
            load_balancer={"address": "hostname", "region": spec.region or "us-west-2"},
        )
        sim.start()
        holder["sim"] = sim
        sim.kubeconfig(workdir.kubeconfig)
        reporter.line(f"simulated Kubernetes API on {sim.url} (a simulator, not a cluster)")
        return sim

    def write_kubeconfig(spec_: Spec, outputs: InfraOutputs, dest: Path) -> Path:
        sim = holder.get("sim") or start_cluster(nodes_for(spec_, outputs))
        return sim.kubeconfig(dest)

    def existing_kubeconfig(workdir_: Workdir) -> Path | None:
        return workdir_.kubeconfig if "sim" in holder else None

    return Environment(
        name="sandbox",
        context=context,
        write_kubeconfig=write_kubeconfig,
        simulated=True,
        notes=[NOT_RUN],
        secret_store=lambda directory, spec=None: SandboxSecretStore(
            directory, reporter, spec=spec
        ),
        existing_kubeconfig=existing_kubeconfig,
    )


def _env_names() -> tuple[str, ...]:
    return (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    )


def nodes_for(spec: Spec, outputs: InfraOutputs) -> list[dict[str, Any]]:
    """Simulated Node objects for the spec's pools at their desired size, labelled and
    tainted as the EKS node groups would register them."""
    gpu_labels = {pool.name: pool.labels for pool in outputs.gpu_pools}
    nodes = []
    for pool_index, pool in enumerate(spec.node_pools):
        for index in range(pool.effective_desired):
            name = f"{pool.name}-{index}"
            ip = f"10.0.{pool_index}.{10 + index}"
            labels = {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": pool.instance_type or "",
                "eks.amazonaws.com/nodegroup": pool.name,
                **pool.labels,
                **gpu_labels.get(pool.name, {}),
            }
            allocatable = {"cpu": "3920m", "memory": "14Gi", "pods": "58"}
            if pool.gpu is not None:
                labels.setdefault("nvidia.com/gpu.present", "true")
                allocatable["nvidia.com/gpu"] = str(pool.gpu.count)
            taints = [
                {"key": t.key, "value": t.value, "effect": t.effect} for t in pool.effective_taints
            ]
            nodes.append(
                {
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"taints": taints} if taints else {},
                    "status": {
                        # As EKS registers a node: its VPC address and private DNS name.
                        "addresses": [
                            {"type": "InternalIP", "address": ip},
                            {"type": "Hostname", "address": _private_dns(ip, spec.region)},
                        ],
                        "allocatable": allocatable,
                        "capacity": dict(allocatable),
                        "conditions": [{"type": "Ready", "status": "True"}],
                    },
                }
            )
    return nodes


def _private_dns(ip: str, region: str | None) -> str:
    return f"ip-{ip.replace('.', '-')}.{region or 'us-west-2'}.compute.internal"


def _backends() -> dict[str, Any]:
    from moto.backends import get_backend

    found = {}
    for name in _SERVICES:
        try:
            found[name] = get_backend(name)
        except (KeyError, ImportError, ValueError):  # a service this moto lacks
            LOG.debug("moto has no %s backend", name)
    return found


def _save_backends(path: Path) -> None:
    """Pickle the emulator's in-memory resources so the next sandbox run finds them."""
    try:
        payload = pickle.dumps({name: dict(b) for name, b in _backends().items()})
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        LOG.warning("cannot save the emulator's state (%s); the next run starts empty", exc)
        return
    write_private(path, payload)


def _load_backends(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        # The file is the sandbox's own, written 0600 by `_save_backends` above.
        data = pickle.loads(path.read_bytes())  # noqa: S301
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        LOG.warning("cannot restore the emulator's state from %s (%s)", path, exc)
        return False
    backends = _backends()
    for name, content in data.items():
        if name in backends:
            backends[name].clear()
            backends[name].update(content)
    return True
