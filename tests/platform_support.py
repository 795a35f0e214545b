"""Shared fixtures and helpers for the platform tests (imported by test_platform_*.py).

Renders run on the offline release copies in ../shared (the `shared` folder
`conftest.find_shared` finds). Without it, tests fall back to what kfstack downloads
on a connected machine (the pinned GitHub archives), or skip when offline.
`kubeflow_release` is that fallback for tests that build trees themselves: it attempts
kfstack's own download and vendoring, and skips only when the archive cannot be fetched.
The render cache is one per session, so the matrix pays each cold build once.
"""

from __future__ import annotations

import copy
import socket
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXAMPLES, find_shared

from installer.console import Reporter
from installer.platform import render as _render
from installer.platform import sources as _sources
from installer.platform import vendor as _vendor
from installer.spec import validate_data
from installer.spec.model import Spec
from stacks.base import InfraOutputs

VERSIONS = ("v1.10.2", "v1.11.0", "26.03")
TARGETS = ("aws", "gcp", "azure", "baremetal", "existing")


def _online() -> bool:
    try:
        socket.create_connection(("github.com", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def platform_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("kfstack-cache")


@pytest.fixture(scope="session")
def sources_for_version(platform_cache):
    """version -> Sources: the shared copies, else downloads (skipped when offline)."""
    shared = find_shared()
    if shared is None and not _online():
        pytest.skip("no ../shared copies and no network to download the pinned releases")

    def make(version: str) -> _sources.Sources:
        if shared is None:
            return _sources.Sources(cache=platform_cache)
        return _sources.Sources(
            release_dir=shared / "kubeflow-manifests" / version,
            remote_dir=shared / "kubeflow-manifests" / "remote",
            addons_dir=shared / "addon-manifests",
            cache=platform_cache,
        )

    return make


@pytest.fixture(scope="session")
def kubeflow_release(platform_cache):
    """version -> (release dir, remote bases dir) for tests that run kustomize themselves.

    The ../shared copies when present; else the bundle kfstack itself downloads, verifies
    and vendors into the session cache (its remote URLs already point at the vendored
    bases). Skips the calling test only when the download cannot reach GitHub; a download
    that arrives with the wrong digest fails.
    """
    shared = find_shared()
    unreachable: list[str] = []

    def get(version: str) -> tuple[Path, Path]:
        if shared is not None:
            manifests = shared / "kubeflow-manifests"
            return manifests / version, manifests / "remote"
        if not unreachable:
            try:
                bundle = _vendor.prepare(_sources.Sources(cache=platform_cache), version)
                return bundle.kubeflow, bundle.root / "remote"
            except _sources.DownloadUnavailable as exc:
                unreachable.append(exc.message)
        pytest.skip(f"no ../shared copies and kfstack's own download failed: {unreachable[0]}")

    return get


def example(target: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{target}.yaml").read_text())


def make_spec(data: dict[str, Any]) -> Spec:
    return validate_data(copy.deepcopy(data)).spec


def infra_before_apply(spec: Spec) -> InfraOutputs:
    """What the target's stack knows before apply (its pending outputs); the base
    contract's minimum where that stack is not in this checkout."""
    import stacks

    try:
        return stacks.for_spec(spec).pending_outputs()
    except ModuleNotFoundError:
        return InfraOutputs(target=spec.target, load_balancer=spec.target != "baremetal")


def render(spec: Spec, out: Path, srcs: _sources.Sources, infra: InfraOutputs | None = None):
    return _render.render(spec, infra or infra_before_apply(spec), out, Reporter(), srcs=srcs)


def documents(path: Path) -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [d for d in yaml.load_all(path.read_text(), Loader=loader) if d]


@lru_cache(maxsize=512)
def plain_count(root: str, ref: str) -> int:
    """Objects a plain `kustomize build` (or a plain YAML file) of one upstream path gives."""
    path = Path(root) / ref
    if path.is_file():
        text = path.read_text()
    else:
        text = subprocess.run(
            ["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return sum(1 for line in text.splitlines() if line.startswith("kind: "))


def all_files(root: Path) -> list[Path]:
    """Every regular file of a rendered directory, not following the _upstream link."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
