"""Local readiness checks behind `kfstack doctor`: binaries, versions, visible credentials.

Everything here is offline: binaries are found on PATH and asked for their version,
credentials are *detected* (environment variable names, well-known files), never used
or printed. Each check says whether the spec's target needs it, so the command can
exit 1 only when something required is missing.

    checks(spec | None) -> [Check(name, ok, required, detail, fix, ...)]
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from installer import credentials, tools
from installer.spec import paths as spec_paths
from installer.spec.model import Spec

LOG = logging.getLogger("kfstack.doctor")

DEFAULT_ENGINE_CONSTRAINT = ">= 1.6"
# kubeflow/manifests builds with kustomize 5; older ones reject its `labels` fields.
KUSTOMIZE_CONSTRAINT = ">= 5.0"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    required: bool
    detail: str
    fix: str = ""
    version: str | None = None
    path: str | None = None

    @property
    def status(self) -> str:
        """ok; outdated (found, wrong version); missing (required); absent (optional)."""
        if self.ok:
            return "ok"
        if self.version is not None:
            return "outdated"
        return "missing" if self.required else "absent"

    def as_dict(self) -> dict:
        return {"status": self.status, **asdict(self)}


def checks(spec: Spec | None) -> list[Check]:
    """Every check for `spec` (or for a machine with no spec yet, when None)."""
    target = spec.target if spec else None
    found = [_engine(spec)]
    kubectl = _kubectl()
    found += [kubectl, _kustomize(kubectl)]
    found.append(
        _binary(
            "git",
            required=bool(spec and spec.gitops.enabled),
            why="gitops.enabled commits the rendered platform",
        )
    )
    found.append(_binary("ssh", required=target == "baremetal", why="bare-metal hosts"))
    found.append(
        _binary("ssh-keyscan", required=target == "baremetal", why="bare-metal host keys")
    )
    if spec is not None and spec.baremetal is not None:
        found.append(_host_keys(spec))
    for cloud, detect in (("aws", _aws), ("gcp", _gcp), ("azure", _azure)):
        found.append(detect(required=target == cloud))
    if spec is not None and spec.existing is not None:
        found.append(_kubeconfig(spec, spec.existing.kubeconfig))
    return found


def problems(found: list[Check]) -> list[Check]:
    """The required checks that failed."""
    return [c for c in found if c.required and not c.ok]


# ---------------------------------------------------------------------------- binaries


def _engine(spec: Spec | None) -> Check:
    required = spec is None or spec.target != "existing"
    constraint = spec.engine.version if spec else DEFAULT_ENGINE_CONSTRAINT
    names = [spec.engine_command()] if spec else ["terraform", "tofu"]
    tool = next((t for t in map(tools.find, names) if t is not None), None)
    label = "engine (" + " or ".join(n.split("/")[-1] for n in names) + ")"
    hint = tools.INSTALL_HINTS.get(names[0].split("/")[-1], f"install {names[0]}")
    if tool is None:
        other = {"terraform": "tofu", "tofu": "terraform"}.get(names[0].split("/")[-1])
        if spec is not None and other and tools.find(other) is not None:
            hint = f"{other} is installed: set engine.binary: {other} in the spec, or {hint}"
        if spec is not None and not spec_paths.is_command_name(spec.engine.binary):
            missing = spec_paths.not_found("engine.binary", spec.engine.binary, spec.base_dir)
            return Check(label, False, required, missing.message, hint)
        return Check(label, False, required, "not found on PATH", hint)
    try:
        good = tool.version is not None and tools.satisfies(tool.version, constraint)
    except ValueError as exc:
        return Check(label, False, required, str(exc), "fix engine.version in the spec")
    detail = f"{tool.name} {tool.version or '(version unreadable)'}, needs {constraint}"
    fix = "" if good else hint
    return Check(label, good, required, detail, fix, tool.version, tool.path)


def _kubectl() -> Check:
    tool = tools.find("kubectl")
    if tool is None:
        return Check("kubectl", False, True, "not found on PATH", tools.INSTALL_HINTS["kubectl"])
    return Check("kubectl", True, True, f"kubectl {tool.version}", "", tool.version, tool.path)


def _kustomize(kubectl: Check) -> Check:
    embedded = tools.kubectl_kustomize_version(kubectl.path) if kubectl.path else None
    if embedded and tools.satisfies(embedded, KUSTOMIZE_CONSTRAINT):
        return Check(
            "kustomize",
            True,
            True,
            f"{embedded} (embedded in kubectl)",
            "",
            embedded,
            kubectl.path,
        )
    standalone = tools.find("kustomize")
    if (
        standalone
        and standalone.version
        and tools.satisfies(standalone.version, KUSTOMIZE_CONSTRAINT)
    ):
        return Check(
            "kustomize",
            True,
            True,
            f"{standalone.version} (standalone)",
            "",
            standalone.version,
            standalone.path,
        )
    have = embedded or (standalone.version if standalone else None)
    detail = f"{have} is older than {KUSTOMIZE_CONSTRAINT}" if have else "not found"
    return Check("kustomize", False, True, detail, tools.INSTALL_HINTS["kustomize"], have)


def _binary(name: str, *, required: bool, why: str) -> Check:
    tool = tools.find(name)
    if tool is None:
        detail = "not found on PATH" + (f" (needed for {why})" if required else "")
        return Check(name, False, required, detail, tools.INSTALL_HINTS[name])
    detail = f"{name} {tool.version}" if tool.version else tool.path
    return Check(name, True, required, detail, "", tool.version, tool.path)


# ---------------------------------------------------------------------------- credentials


def _env(*names: str) -> list[str]:
    return [n for n in names if os.environ.get(n)]


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def _aws(*, required: bool) -> Check:
    # The order the AWS SDKs and the Terraform provider look in.
    sources = []
    if len(_env("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")) == 2:
        sources.append("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    sources += _env("AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE")
    for var, default in (
        ("AWS_SHARED_CREDENTIALS_FILE", _home() / ".aws" / "credentials"),
        ("AWS_CONFIG_FILE", _home() / ".aws" / "config"),
    ):
        path = Path(os.environ.get(var) or default)
        if path.is_file():
            sources.append(str(path))
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    detail = ", ".join(sources) if sources else "none visible"
    if endpoint:
        detail += f"; AWS_ENDPOINT_URL={endpoint} (an emulator or private endpoint)"
    return Check(
        "credentials: aws",
        bool(sources),
        required,
        detail,
        "" if sources else "export AWS_PROFILE=<profile> (see `aws configure`) or the key pair",
    )


def _gcp(*, required: bool) -> Check:
    return _found(credentials.detect_gcp(), required=required)


def _azure(*, required: bool) -> Check:
    return _found(credentials.detect_azure(), required=required)


def _found(found: credentials.Found, *, required: bool) -> Check:
    # The same detection the GKE and AKS stacks run before terraform, so doctor and
    # `kfstack plan` never disagree about whether credentials are there.
    if found.problem:
        detail = found.problem
    elif found.sources:
        detail = ", ".join(found.sources)
    else:
        detail = f"none visible (looked for {found.looked_for})"
    return Check(
        f"credentials: {found.cloud}", found.ok, required, detail, "" if found.ok else found.fix
    )


def _host_keys(spec: Spec) -> Check:
    # `kfstack doctor` loads the spec without requiring host keys, so that it can say
    # this instead of failing validation.
    assert spec.baremetal is not None
    mode = spec.baremetal.host_key_checking
    hosts = spec.baremetal.hosts
    unpinned = [h.name for h in hosts if h.host_key is None]
    if not unpinned:
        return Check("host keys", True, True, f"all {len(hosts)} hosts pinned ({mode})")
    detail = f"not pinned: {', '.join(unpinned)}"
    if mode == "accept-new":
        detail += " (accept-new: trusted on first contact)"
    return Check(
        "host keys",
        False,
        mode == "strict",
        detail,
        "kfstack hostkeys --write -c <spec>, after comparing fingerprints with the consoles",
    )


def _kubeconfig(spec: Spec, written: str) -> Check:
    resolved = spec.local_path(written)
    if resolved.is_file():
        return Check("kubeconfig", True, True, str(resolved))
    missing = spec_paths.not_found("existing.kubeconfig", written, spec.base_dir)
    return Check("kubeconfig", False, True, missing.message, missing.hint or "")
