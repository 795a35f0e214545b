"""The real kustomize: the standalone binary when present, else `kubectl kustomize`.

Both are version-checked through `installer.tools` (kustomize 5.x; its version is part
of every component's cache key, since another kustomize may render differently).
A failed build raises `BuildError`, which names the component and, when kustomize's
message points at one, the file at fault.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from installer import tools
from installer.errors import KfstackError, ToolMissingError

LOG = logging.getLogger("kfstack.platform.kustomize")

CONSTRAINT = ">= 5.0, < 6.0"
TIMEOUT = 300
# Plain-YAML add-ons (the NVIDIA static manifest, csi-driver-nfs) are files outside the
# component folder, which kustomize only loads with this flag.
_FLAGS = ("--load-restrictor", "LoadRestrictionsNone")
# Go's collector, tuned for short builds: kustomize spends a quarter of its CPU collecting
# at the default GOGC=100. At 400 the 21 component builds of a full 26.03 platform took
# 6.1 s of CPU instead of 8.1 s, the largest (KServe) peaking at 460 MB instead of
# 250 MB (2026-12-03, /usr/bin/time); the soft memory limit makes Go collect harder
# before a build could grow past it. Settings the user made are kept.
GO_ENV = {"GOGC": "400", "GOMEMLIMIT": "2GiB"}


@dataclass(frozen=True)
class Kustomize:
    argv: tuple[str, ...]
    version: str

    def build(self, directory: Path, component: str, display: str | None = None) -> str:
        """`kustomize build directory`, stdout as text.

        `display` is how the message names the folder (the rendered tree's path rather
        than the staging directory the build runs in).

        Raises:
            BuildError: kustomize failed; the message names the component and file.
        """
        cmd = [*self.argv, str(directory)]
        LOG.debug("running %s", " ".join(cmd))
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=TIMEOUT, env=build_env()
            )
        except subprocess.TimeoutExpired:
            raise BuildError(
                component, directory, f"kustomize timed out after {TIMEOUT}s", "", display
            ) from None
        except OSError as exc:
            raise BuildError(
                component, directory, f"cannot run kustomize ({exc})", "", display
            ) from None
        if proc.returncode != 0:
            raise BuildError(component, directory, proc.stderr.strip(), " ".join(cmd), display)
        for line in proc.stderr.splitlines():
            LOG.debug("kustomize %s: %s", component, line)
        return proc.stdout


def build_env() -> dict[str, str]:
    """The environment kustomize builds run in: this one, plus `GO_ENV` where the user
    set neither GOGC nor the variable itself."""
    env = dict(os.environ)
    if "GOGC" not in env:
        for key, value in GO_ENV.items():
            env.setdefault(key, value)
    return env


class BuildError(KfstackError):
    """kustomize rejected a component's overlay."""

    def __init__(
        self,
        component: str,
        directory: Path,
        stderr: str,
        command: str,
        display: str | None = None,
        file: str | None = None,
    ) -> None:
        self._args = (component, directory, stderr, command, display)
        self.component = component
        self.file = file or _file_at_fault(stderr, Path(directory))
        self.stderr = stderr
        folder = display or str(directory)
        where = f"{folder}/{self.file}" if self.file else folder
        tail = "\n    ".join(stderr.splitlines()[-8:])
        super().__init__(
            f"component {component}: kustomize could not build {where}\n    {tail}",
            hint=f"fix {where} and run `kfstack render` again",
        )
        self.command = command

    def __reduce__(self) -> tuple:
        # Raised in a worker process; pickling must carry the file found there, since
        # the staging folder may be gone when the parent unpickles it.
        return (BuildError, (*self._args, self.file))


_PATH = re.compile(r"(/[\w./+-]+\.ya?ml)")
_QUOTED = re.compile(r'path: \\?"([\w./+-]+)\\?"')


def _file_at_fault(stderr: str, directory: Path) -> str | None:
    """The component's file kustomize complains about, relative to the component.

    kustomize names the file for parse errors (`[path: "x.yaml"]`) and absolute paths
    for loading errors, but only the object's id (`Deployment.v1.apps/dex.auth`) when a
    patch matches nothing, so the patches are searched for that object's name too.
    """
    for match in _QUOTED.finditer(stderr):
        if (directory / match.group(1)).exists():
            return match.group(1)
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        try:
            names = re.findall(r"^\s{0,4}name: *(\S+)", path.read_text(), re.MULTILINE)
        except OSError:
            continue
        for name in names:
            if re.search(rf"/{re.escape(name)}(\.[\w-]+)?[\s\";:]", stderr):
                return path.name
    for match in _PATH.finditer(stderr):
        path = Path(match.group(1))
        try:
            return str(path.relative_to(directory.resolve()))
        except ValueError:
            try:
                return str(path.relative_to(directory))
            except ValueError:
                continue
    return None


def find() -> Kustomize:
    """The kustomize to use.

    Raises:
        ToolMissingError: neither kustomize nor kubectl is available in a 5.x version.
    """
    standalone = tools.find("kustomize")
    if standalone is not None and standalone.version:
        if tools.satisfies(standalone.version, CONSTRAINT):
            return Kustomize((standalone.path, "build", *_FLAGS), standalone.version)
    kubectl = tools.find("kubectl")
    if kubectl is not None:
        version = tools.kubectl_kustomize_version(kubectl.path)
        if version and tools.satisfies(version, CONSTRAINT):
            return Kustomize((kubectl.path, "kustomize", *_FLAGS), version)
    found = standalone.version if standalone else None
    raise ToolMissingError(
        "kustomize",
        f"no kustomize {CONSTRAINT} found"
        + (f" (kustomize {found} is outside the range)" if found else ""),
        hint=tools.INSTALL_HINTS["kustomize"],
    )
