"""Local paths written in the spec, and where kfstack reads them from.

A relative path in `kfstack.yaml` is relative to the folder that holds the spec file,
as in the other files that name files (kubeconfig, kustomization.yaml), so
`kfstack apply -c envs/prod/kfstack.yaml` reads the same files from any directory. A
spec parsed from text has no folder; its relative paths are read from the current
directory. `~` is expanded; absolute paths are used as written.

The spec keeps every value as written and each consumer resolves it where it reads it
(`Spec.local_path`), so nothing derived from the spec (the platform tree's
`secrets.yaml`, the lock file, a GitOps commit) depends on where the checkout is. The
fields, by path:

    kubeflow.manifests                       a directory
    existing.kubeconfig                      a file
    baremetal.hosts[].ssh_key                a file
    baremetal.airgap.{binary,images,install_script}
    every SecretRef `file:` (kubeflow.auth.connectors[].client_secret,
        kubeflow.registry.pull_secret, gitops.credential)
    gitops.repository                        when it is a path, not a URL
    engine.binary                            when it is a path (holds a `/`), not a name
"""

from __future__ import annotations

import os
from pathlib import Path

from installer.errors import UserError


def resolve(value: str, base: Path | None) -> Path:
    """`value` as a path to read: `~` expanded, an absolute path as is, a relative one
    joined to `base` (the spec's folder; None: the current directory)."""
    path = Path(os.path.expanduser(value))
    if path.is_absolute():
        return path
    return (base if base is not None else Path.cwd()) / path


def is_command_name(value: str) -> bool:
    """True for a bare command name (`terraform`), looked up on PATH rather than resolved."""
    return "/" not in value and not value.startswith("~")


def where(value: str, base: Path | None) -> str:
    """How `value` became a path, for messages: "" when absolute as written, else
    "(expanded to ...)" or "(resolved against <folder>/ to ...)"."""
    resolved = resolve(value, base)
    if Path(value).is_absolute():
        return ""
    if value.startswith("~"):
        return f"(expanded to {resolved})"
    folder = f"{base}/" if base is not None else f"the current directory {Path.cwd()}/"
    return f"(resolved against {folder} to {resolved})"


def not_found(
    field: str, value: str, base: Path | None, *, what: str = "", hint: str | None = None
) -> UserError:
    """The error for a local path in the spec that names nothing (exit 2): the field, the
    value as written and the path it resolved to, e.g. `kubeflow.manifests: ./kf not found
    (resolved against /x/envs/prod/ to /x/envs/prod/kf)`."""
    how = where(value, base)
    return UserError(
        f"{field}: {what + ' ' if what else ''}{value} not found{' ' + how if how else ''}",
        hint=hint
        or f"create it, or fix {field} in the spec (a relative path is read from the "
        "spec's folder)",
    )
