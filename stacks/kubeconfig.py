"""Kubeconfig documents the stacks write: one cluster, one user, one context.

Every stack writes its kubeconfig into the environment's work directory with
`workdir.write_private` (0600) and never touches `~/.kube/config`. Credentials inside a
written kubeconfig (tokens, client keys) are registered with `installer.redact` so a
later log line that happens to contain one is masked.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import yaml

from installer import redact
from installer.errors import UserError
from installer.workdir import write_private

LOG = logging.getLogger("kfstack.stacks.kubeconfig")

_SECRET_USER_FIELDS = ("token", "client-key-data", "password")


def single_context(name: str, cluster: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """A kubeconfig whose only cluster, user and context are all called `name`."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }


def register_secrets(config: dict[str, Any]) -> None:
    """Register every credential in `config`'s users with the redactor."""
    for entry in config.get("users") or []:
        user = (entry or {}).get("user") or {}
        for key in _SECRET_USER_FIELDS:
            redact.register(user.get(key))


def write(config: dict[str, Any], dest: Path) -> Path:
    """Write `config` to `dest` readable by the owner only; return `dest`."""
    register_secrets(config)
    write_private(dest, yaml.safe_dump(config, sort_keys=False))
    LOG.info("kubeconfig written to %s (context %s)", dest, config.get("current-context"))
    return dest


def import_extra(module: str, *, extra: str, needs: str) -> Any:
    """Import `module`, which comes with kfstack's optional `extra`.

    Raises:
        UserError: the module is not installed; the hint names the extra to install.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(needs, hint=f"pip install 'kfstack[{extra}]'") from None
