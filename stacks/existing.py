"""The `existing` target: Kubeflow on a cluster kfstack did not create.

There is no infrastructure, so the Terraform configuration is empty and every output is
known before any apply (there is nothing to apply). The kubeconfig is the user's own
file and context: `write_kubeconfig` copies just that context into the work directory
(0600), inlining the certificate files it references so the copy stands alone, and never
writes to the user's file.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import yaml

from installer.errors import UserError
from installer.spec import paths as spec_paths
from installer.spec.model import ExistingTarget, Spec
from stacks import kubeconfig as _kubeconfig
from stacks.base import InfraOutputs, Stack

LOG = logging.getLogger("kfstack.stacks.existing")

# Fields that name a file next to the kubeconfig, and the inline field that replaces each.
_INLINE = {
    "cluster": {"certificate-authority": "certificate-authority-data"},
    "user": {
        "client-certificate": "client-certificate-data",
        "client-key": "client-key-data",
    },
}
# Paths kubectl reads at run time; made absolute because the copy lives elsewhere.
_ABSOLUTE = {"user": ("tokenFile",)}


class ExistingStack(Stack):
    """No infrastructure: an empty configuration and outputs that are final up front."""

    target = "existing"

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        if spec.existing is None:
            raise UserError(
                "target is existing but the `existing:` block is missing", hint="add existing:"
            )
        self.existing: ExistingTarget = spec.existing

    def documents(self) -> dict[str, dict[str, Any]]:
        return {}

    def pending_outputs(self) -> InfraOutputs:
        """Final, not pending: kfstack provisions nothing on an existing cluster."""
        return InfraOutputs(
            target=self.target,
            cluster_name=self.existing.context,
            infrastructure="none: an existing cluster, reached through "
            f"{self.existing.kubeconfig}"
            + (f" ({self.existing.context})" if self.existing.context else ""),
        )

    def write_kubeconfig(self, outputs: InfraOutputs, dest: Path) -> Path:
        """Copy the chosen context of the user's kubeconfig to `dest` (0600).

        Raises:
            UserError: the file is missing or not a kubeconfig, the context (or its
                cluster or user) is not in it, or a referenced certificate is unreadable.
        """
        source = self.spec.local_path(self.existing.kubeconfig)
        if not source.is_file():
            raise spec_paths.not_found(
                "existing.kubeconfig",
                self.existing.kubeconfig,
                self.spec.base_dir,
                hint="set existing.kubeconfig to the file kubectl uses for the cluster "
                "(a relative path is read from the spec's folder)",
            )
        config = _read(source)
        name = self.existing.context or config.get("current-context")
        if not name:
            raise UserError(
                f"{source} has no current-context and the spec names none",
                hint="set existing.context to one of: " + ", ".join(_names(config, "contexts")),
            )
        context = _find(config, "contexts", name)
        if context is None:
            raise UserError(
                f"context {name!r} is not in {source}",
                hint="set existing.context to one of: " + ", ".join(_names(config, "contexts")),
            )
        body = context.get("context") or {}
        cluster = _find(config, "clusters", body.get("cluster"))
        user = _find(config, "users", body.get("user"))
        if cluster is None or user is None:
            missing = "cluster" if cluster is None else "user"
            raise UserError(
                f"context {name!r} in {source} names a {missing} that the file does not define",
                hint=f"fix the context with `kubectl config set-context {name} ...`",
            )
        base = source.resolve().parent
        minified = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [_standalone(cluster, "cluster", base)],
            "users": [_standalone(user, "user", base)],
            "contexts": [context],
            "current-context": name,
            "preferences": {},
        }
        return _kubeconfig.write(minified, dest)


def _read(source: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"kubeconfig {source} does not exist",
            hint="set existing.kubeconfig to the file kubectl uses for the cluster",
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(
            f"cannot read kubeconfig {source}: {exc}", hint="check existing.kubeconfig"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("contexts"), list):
        raise UserError(
            f"{source} is not a kubeconfig (no contexts)", hint="check existing.kubeconfig"
        )
    return data


def _names(config: dict[str, Any], section: str) -> list[str]:
    return [str(e.get("name")) for e in config.get(section) or [] if isinstance(e, dict)]


def _find(config: dict[str, Any], section: str, name: str | None) -> dict[str, Any] | None:
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None


def _standalone(entry: dict[str, Any], kind: str, base: Path) -> dict[str, Any]:
    """A copy of a cluster or user entry with referenced files inlined or made absolute."""
    body = dict(entry.get(kind) or {})
    for path_key, data_key in _INLINE.get(kind, {}).items():
        if path_key in body:
            path = _resolve(body.pop(path_key), base)
            try:
                body[data_key] = base64.b64encode(path.read_bytes()).decode("ascii")
            except OSError as exc:
                raise UserError(
                    f"{kind} {entry.get('name')!r} refers to {path}, which cannot be read "
                    f"({exc.strerror})",
                    hint="fix the path in the kubeconfig or inline the data",
                ) from None
    for key in _ABSOLUTE.get(kind, ()):
        if key in body:
            body[key] = str(_resolve(body[key], base))
    return {"name": entry.get("name"), kind: body}


def _resolve(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


STACK_CLASS = ExistingStack
