"""The contract every target's stack fulfils, and the outputs the next layers read.

A stack turns a validated `Spec` into a Terraform root configuration: a dict of
`*.tf.json` documents plus the HCL modules (from `modules/`) they call with typed
inputs. `write()` lays them into a directory that is a self-contained Terraform root
(modules copied under `modules/`), so `terraform init/plan/apply` needs nothing else.

After apply, `terraform output -json` is read into `InfraOutputs`; the platform layer
(storage classes, GPU stack, auth quirks) and kubeconfig retrieval read only that model.
"""

from __future__ import annotations

import json
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from installer.console import Reporter
from installer.errors import KfstackError, ToolError
from installer.secrets import SecretStore
from installer.spec.model import Spec

MODULES_PACKAGE = "kfstack_modules"


class GpuPoolOutput(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    gpu_model: str
    gpu_count: int
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[dict[str, str]] = Field(default_factory=list)
    driver: str = Field(
        "platform",
        description="who installs the NVIDIA driver: "
        "platform (cloud image/managed) or kfstack (device plugin + host)",
    )


class InfraOutputs(BaseModel):
    """What the infrastructure layer hands to the layers above. Unknown until apply;
    `render` before apply shows these as pending values with their Terraform source."""

    model_config = ConfigDict(extra="allow")

    target: str
    cluster_name: str | None = None
    region: str | None = None
    endpoint: str | None = None
    ca_data: str | None = None
    oidc_issuer: str | None = None
    node_pools: list[str] = Field(default_factory=list)
    gpu_pools: list[GpuPoolOutput] = Field(default_factory=list)
    rwx_filesystem_id: str | None = Field(None, description="EFS id / Filestore / share")
    load_balancer: bool = Field(True, description="False on bare metal: no cloud LB")

    @classmethod
    def from_terraform(cls, target: str, outputs: dict[str, Any]) -> InfraOutputs:
        """Build from `terraform output -json` (each value under its `value` key)."""
        values = {
            k: v.get("value") if isinstance(v, dict) and "value" in v else v
            for k, v in outputs.items()
        }
        values["target"] = target
        return cls.model_validate(values)


class Stack(ABC):
    """One target's infrastructure. Subclasses set `target` and implement the hooks."""

    target: str = ""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    @abstractmethod
    def documents(self) -> dict[str, dict[str, Any]]:
        """The root configuration: file name (`main.tf.json` ...) → Terraform JSON."""

    def module_names(self) -> list[str]:
        """The HCL modules under `modules/` this configuration calls."""
        return []

    def providers(self) -> dict[str, str]:
        """Provider source → version constraint (`hashicorp/aws` → `>= 5.100, < 7.0`)."""
        return {}

    def pending_outputs(self) -> InfraOutputs:
        """What the platform layer can know before apply (values only apply fills are None)."""
        return InfraOutputs(target=self.target, load_balancer=self.target != "baremetal")

    def destroy_prepare(self, directory: Path, apply: Callable[[list[str]], None]) -> bool:
        """Make applied infrastructure destroyable; `kfstack destroy` calls it first.

        Some resources carry a guard that only an apply can lift (GKE's
        `deletion_protection`). A stack that has one rewrites its configuration in
        `directory` with the guard off and calls `apply(extra_terraform_args)` (for
        example `["-target=module.gke.google_container_cluster.this"]`); the caller then
        runs `terraform destroy`. Returns whether it applied anything. The default has
        nothing to lift.

        Raises whatever `apply` raises (ToolError when terraform fails).
        """
        return False

    def write_kubeconfig(self, outputs: InfraOutputs, dest: Path) -> Path:
        """Write a kubeconfig (0600) for the applied cluster to `dest` and return its path.

        Never merges into the user's `~/.kube/config`. Targets that have not implemented
        it keep this default.

        Raises:
            NotImplementedError: this target writes no kubeconfig.
            CredentialsError: the cluster cannot be described with the credentials at hand.
        """
        raise NotImplementedError(f"the {self.target or 'base'} stack cannot write a kubeconfig")

    def secret_variables(self, secrets: SecretStore) -> dict[str, str]:
        """Sensitive Terraform root variables → values, passed as `TF_VAR_<name>` at run time.

        They never appear in `documents()`, so the written root holds no secret.
        """
        return {}

    def check_access(self) -> None:
        """Check, before any Terraform run, that the target's credentials are usable
        (bare metal: that the air-gap files the spec names are there).

        The default checks nothing (targets whose access Terraform alone can judge).

        Raises:
            CredentialsError: credentials are missing or rejected (exit 2, with a hint).
            UserError: a local file the target needs is missing (exit 2).
        """
        return None

    def check_before_apply(self) -> None:
        """Check, right before Terraform changes anything, what only the live target can
        tell and Terraform would report late or unreadably. `plan` never calls it.

        The default checks nothing.

        Raises:
            KfstackError: the target is not in the state the spec expects.
        """
        return None

    def explain_failure(self, error: ToolError) -> KfstackError:
        """A clearer error for a Terraform failure this target knows (bare metal: a
        host-key mismatch), or `error` itself. The default returns `error`."""
        return error

    def prepare_state(self, reporter: Reporter) -> None:
        """Create the remote state store when the spec asks for it (`state.create`).

        The default does nothing: local state needs no preparation.

        Raises:
            CredentialsError: the store cannot be created with the credentials at hand.
        """
        return None

    def write(self, directory: Path) -> list[Path]:
        """Write the root configuration and copy its modules into `directory`.

        Output is deterministic: sorted keys, fixed indentation, a trailing newline.
        """
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        documents = self.documents()
        # A root file from an earlier version of the spec would still be read by terraform.
        for stale in directory.glob("*.tf.json"):
            if stale.name not in documents:
                stale.unlink()
        for name, document in sorted(documents.items()):
            path = directory / name
            path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
            written.append(path)
        modules_root = resources.files(MODULES_PACKAGE)
        for module in self.module_names():
            source = Path(str(modules_root.joinpath(module)))
            dest = directory / "modules" / module
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            written.append(dest)
        return written


def terraform_backend(spec: Spec) -> dict[str, Any] | None:
    """The root's `terraform.backend` block for `spec.state`, or None for local state.

    All three backends are built into Terraform, so a stack without providers (bare
    metal) can use any of them. Required fields are checked by `rules._check_state`.
    """
    state = spec.state
    key = state.key or f"{spec.name}/{spec.environment}"
    if state.backend == "s3":
        s3: dict[str, Any] = {
            "bucket": state.bucket,
            "key": f"{key}/terraform.tfstate" if state.key is None else key,
            "region": state.region,
            "encrypt": True,
        }
        if state.dynamodb_table:
            s3["dynamodb_table"] = state.dynamodb_table
        return {"s3": s3}
    if state.backend == "gcs":
        return {"gcs": {"bucket": state.bucket, "prefix": key}}
    if state.backend == "azurerm":
        return {
            "azurerm": {
                "storage_account_name": state.storage_account,
                "container_name": state.container,
                "resource_group_name": state.resource_group,
                "key": f"{key}/terraform.tfstate" if state.key is None else key,
            }
        }
    return None


def terraform_block(
    spec: Spec, providers: dict[str, tuple[str, str]], required_version: str = ">= 1.6"
) -> dict[str, Any]:
    """The root's `terraform` block: the version floor, the providers (local name →
    (source, constraint)) and the backend for `spec.state` (absent for local state)."""
    block: dict[str, Any] = {"required_version": required_version}
    if providers:
        block["required_providers"] = {
            name: {"source": source, "version": version}
            for name, (source, version) in providers.items()
        }
    backend = terraform_backend(spec)
    if backend is not None:
        block["backend"] = backend
    return block


def modules_root() -> Path:
    """The directory holding the HCL modules (the repo's `modules/`, or the installed copy)."""
    return Path(str(resources.files(MODULES_PACKAGE)))
