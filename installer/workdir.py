"""The environment's work directory: everything kfstack keeps for one spec.

<spec dir>/.kfstack/<name>-<environment>/     (or $KFSTACK_WORKDIR, or --workdir)
├── terraform/        generated root configuration, lock file, local state
├── platform/         the rendered platform tree (when not rendered elsewhere)
├── secrets/          generated secret values, 0700 directory, 0600 files
├── kubeconfig        0600, never merged into ~/.kube/config unless asked
├── progress.json     which phases of `up` finished (resume)
├── gitops/           kfstack's clone of gitops.repository (repo/) and committed trees
└── <spec dir>/.kfstack/logs/   one log file per run (shared by environments)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from installer.spec.model import Spec


def logs_dir_for(spec_path: str | Path) -> Path:
    """Where runs on the spec at `spec_path` write their logs (known before parsing it)."""
    return Path(spec_path).resolve().parent / ".kfstack" / "logs"


@dataclass(frozen=True)
class Workdir:
    root: Path

    @classmethod
    def for_spec(
        cls, spec: Spec, spec_path: str | Path | None, override: str | Path | None = None
    ) -> Workdir:
        chosen = override or os.environ.get("KFSTACK_WORKDIR")
        if chosen:
            return cls(Path(chosen).expanduser().resolve())
        base = Path(spec_path).resolve().parent if spec_path else Path.cwd()
        return cls(base / ".kfstack" / spec.full_name)

    @property
    def terraform(self) -> Path:
        return self.root / "terraform"

    @property
    def platform(self) -> Path:
        return self.root / "platform"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def gitops(self) -> Path:
        return self.root / "gitops"

    @property
    def progress(self) -> Path:
        return self.root / "progress.json"

    def ensure(self) -> Workdir:
        self.root.mkdir(parents=True, exist_ok=True)
        self.secrets.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.secrets, 0o700)
        return self


def write_private(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` readable by the owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(tmp, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
