"""The real kustomize: the standalone binary when present, else `kubectl kustomize`.

Both are version-checked through `installer.tools` (kustomize 5.x; its version is part
of every component's cache key, since another kustomize may render differently).
A failed build raises `BuildError`, which names the component and, when kustomize's
message points at one, the file at fault.
"""

from __future__ import annotations

import logging
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


@dataclass(frozen=True)
class Kustomize:
    argv: tuple[str, ...]
    version: str

    def build(self, directory: Path, component: str) -> str:
        """`kustomize build directory`, stdout as text.

        Raises:
            BuildError: kustomize failed; the message names the component and file.
        """
        cmd = [*self.argv, str(directory)]
        LOG.debug("running %s", " ".join(cmd))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise BuildError(component, directory, f"kustomize timed out after {TIMEOUT}s", "")
        except OSError as exc:
            raise BuildError(component, directory, f"cannot run kustomize ({exc})", "")
        if proc.returncode != 0:
            raise BuildError(component, directory, proc.stderr.strip(), " ".join(cmd))
        for line in proc.stderr.splitlines():
            LOG.debug("kustomize %s: %s", component, line)
        return proc.stdout


class BuildError(KfstackError):
    """kustomize rejected a component's overlay."""

    def __init__(self, component: str, directory: Path, stderr: str, command: str) -> None:
        self.component = component
        self.file = _file_at_fault(stderr, directory)
        where = f" ({self.file})" if self.file else ""
        tail = "\n    ".join(stderr.splitlines()[-8:])
        super().__init__(
            f"component {component}: kustomize could not build {directory}{where}\n    {tail}",
            hint=f"fix {self.file or 'the overlay'} and run `kfstack render` again",
        )
        self.command = command


_PATH = re.compile(r"(/[\w./+-]+\.ya?ml)")


def _file_at_fault(stderr: str, directory: Path) -> str | None:
    """The rendered tree's file kustomize complains about, relative to the component."""
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
