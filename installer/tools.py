"""The external binaries kfstack drives: find them, read their versions, check constraints.

`require(name, constraint)` is what callers use; it raises `ToolMissingError` (exit 2)
with an install hint when the binary is absent or too old. Version constraints use
Terraform's syntax (`>= 1.6, < 2.0`, `~> 1.9`, `= 1.11.4`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from installer.errors import ToolMissingError

LOG = logging.getLogger("kfstack.tools")

INSTALL_HINTS = {
    "terraform": "install Terraform >= 1.6 (https://developer.hashicorp.com/terraform/install)"
    " or set engine.binary: tofu",
    "tofu": "install OpenTofu >= 1.6 (https://opentofu.org/docs/intro/install/)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
    "kustomize": "install kustomize 5.x or kubectl (which embeds it)",
    "git": "install git (apt-get install git / brew install git)",
    "ssh": "install an OpenSSH client (apt-get install openssh-client)",
    "ssh-keyscan": "install an OpenSSH client (apt-get install openssh-client)",
}

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Tool:
    name: str
    path: str
    version: str | None


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.search(text or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def satisfies(version: str, constraint: str | None) -> bool:
    """Whether `version` meets a Terraform-style `constraint` (None or "" always does).

    Raises:
        ValueError: the constraint is malformed.
    """
    if not constraint or not constraint.strip():
        return True
    have = parse_version(version)
    if have is None:
        return False
    for part in constraint.split(","):
        match = re.fullmatch(r"\s*(>=|<=|!=|~>|=|>|<)?\s*v?(\d+(?:\.\d+){0,2})\s*", part)
        if not match:
            raise ValueError(f"malformed version constraint {part.strip()!r}")
        op = match.group(1) or "="
        numbers = [int(n) for n in match.group(2).split(".")]
        want = tuple(numbers + [0] * (3 - len(numbers)))
        if op == "~>":
            # ~> 1.6 allows 1.x >= 1.6; ~> 1.6.2 allows 1.6.x >= 1.6.2
            upper = list(numbers[:-1])
            upper[-1] += 1
            ceiling = tuple(upper + [0] * (3 - len(upper)))
            ok = want <= have < ceiling
        else:
            ok = {
                "=": have == want,
                "!=": have != want,
                ">": have > want,
                ">=": have >= want,
                "<": have < want,
                "<=": have <= want,
            }[op]
        if not ok:
            return False
    return True


def which(name: str) -> str | None:
    return shutil.which(name)


# `terraform version` (and tofu's) asks checkpoint-api.hashicorp.com for newer releases
# unless this is set; reading a version must stay offline (doctor promises no network).
_OFFLINE_ENV = {"CHECKPOINT_DISABLE": "1"}


def _run(argv: list[str]) -> str:
    env = {**os.environ, **_OFFLINE_ENV}
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, check=False, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        LOG.debug("%s failed: %s", argv, exc)
        return ""
    return proc.stdout + proc.stderr


@lru_cache(maxsize=32)
def read_version(name: str, path: str) -> str | None:
    """The version a binary reports, or None if it cannot be read."""
    base = name.split("/")[-1]
    if base in {"terraform", "tofu"}:
        out = _run([path, "version", "-json"])
        try:
            return json.loads(out)["terraform_version"]
        except (ValueError, KeyError, TypeError):
            pass
        parsed = parse_version(_run([path, "version"]))
    elif base == "kubectl":
        out = _run([path, "version", "--client", "-o", "json"])
        try:
            return json.loads(out)["clientVersion"]["gitVersion"].lstrip("v").split("-")[0]
        except (ValueError, KeyError, TypeError):
            parsed = parse_version(out)
    elif base == "kustomize":
        parsed = parse_version(_run([path, "version"]))
    elif base == "ssh-keyscan":
        return None  # it has no version flag; it ships with the ssh of the same release
    elif base == "ssh":
        parsed = parse_version(_run([path, "-V"]).replace("OpenSSH_", "").replace("p", "."))
    else:
        parsed = parse_version(_run([path, "--version"]))
    return ".".join(map(str, parsed)) if parsed else None


def kubectl_kustomize_version(path: str) -> str | None:
    """The kustomize version embedded in kubectl."""
    out = _run([path, "version", "--client", "-o", "json"])
    try:
        return json.loads(out)["kustomizeVersion"].lstrip("v")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def find(name: str) -> Tool | None:
    """The tool on PATH (or at `name` if it is a path), with its version, or None."""
    path = which(name)
    if path is None:
        return None
    return Tool(name=name.split("/")[-1], path=path, version=read_version(name, path))


def require(name: str, constraint: str | None = None, *, purpose: str = "") -> Tool:
    """Find `name` and check it against `constraint`.

    Raises:
        ToolMissingError: absent, version unreadable, or outside the constraint.
    """
    base = name.split("/")[-1]
    hint = INSTALL_HINTS.get(base, f"install {base} and put it on PATH")
    why = f" ({purpose})" if purpose else ""
    tool = find(name)
    if tool is None:
        raise ToolMissingError(base, f"not found on PATH{why}", hint=hint)
    if constraint:
        if tool.version is None:
            raise ToolMissingError(base, f"cannot read the version of {tool.path}", hint=hint)
        try:
            ok = satisfies(tool.version, constraint)
        except ValueError as exc:
            raise ToolMissingError(base, str(exc), hint="fix engine.version in the spec") from None
        if not ok:
            raise ToolMissingError(
                base,
                f"version {tool.version} at {tool.path} does not satisfy {constraint!r}{why}",
                hint=hint,
            )
    LOG.debug("using %s %s at %s", base, tool.version, tool.path)
    return tool
