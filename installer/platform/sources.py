"""Where upstream manifests come from, and how kfstack proves they are the ones it pinned.

A *source* is a tree of manifests pinned in `data/releases.yaml`: a Kubeflow release
(`kubeflow/manifests` at a tag), a remote base that a release pulls at build time
(Argo Workflows, JobSet, LeaderWorkerSet), or a cluster add-on (CSI drivers, the NVIDIA
device plugin ...). Each entry carries the GitHub tag archive URL, the tag's commit and a
content digest.

The digest is defined over the *filtered* tree, so a tag archive and the offline copy
kept for tests agree: the sorted relative paths of the kept files, each followed by its
bytes (`tree_digest`). The filter (`keep_path`) keeps the subtrees the entry names and
drops shell scripts, Makefiles, `hack/` folders, upstream unit tests, OWNERS and
Markdown, as the offline copies do.

Resolution order for a source (`Sources.resolve`):
  1. a local directory from the spec (`kubeflow.manifests`, or `KFSTACK_ADDONS_DIR`
     for add-ons), used as is and digested so the lock file says what went in;
  2. the cache (`$KFSTACK_CACHE_DIR`, else `$XDG_CACHE_HOME/kfstack`, else
     `~/.cache/kfstack`), verified by digest;
  3. a download of the tag archive (urllib), extracted through the same filter into
     the cache and verified before it is used. An air-gapped site copies the cache.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from installer.errors import KfstackError, UserError

LOG = logging.getLogger("kfstack.platform.sources")

DOWNLOAD_TIMEOUT = 120


class DownloadUnavailable(KfstackError):
    """The archive could not be fetched at all (no network, DNS, refused), as opposed to a
    download that arrived and failed its digest, which is never retried or excused."""


_DROP_NAMES = {"Makefile", "OWNERS", "OWNERS_ALIASES"}
_DROP_SUFFIXES = (".sh", ".md")
_DROP_DIRS = {"hack", ".git", ".github"}


@dataclass(frozen=True)
class SourceEntry:
    """One pinned upstream tree from the catalog."""

    key: str
    project: str
    tag: str
    commit: str
    digest: str
    keep: tuple[str, ...]
    kind: str = "release"  # release | repository | file
    url: str = ""
    offline: str = ""  # path of the offline copy under the shared folder (tests)

    @property
    def archive_url(self) -> str:
        return self.url or f"https://github.com/{self.project}/archive/refs/tags/{self.tag}.tar.gz"


@dataclass
class ResolvedSource:
    entry: SourceEntry
    path: Path
    digest: str
    origin: str  # "local:<dir>", "cache", "download"


@dataclass
class Catalog:
    releases: dict[str, SourceEntry]
    remotes: dict[str, SourceEntry]
    addons: dict[str, SourceEntry]
    remote_urls: dict[str, tuple[str, str]] = field(default_factory=dict)

    def release(self, version: str) -> SourceEntry:
        try:
            return self.releases[version]
        except KeyError:
            raise UserError(
                f"kubeflow.version {version!r} is not in kfstack's release catalog",
                hint=f"use one of {', '.join(sorted(self.releases))}",
            ) from None


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The shipped catalog (`installer/platform/data/releases.yaml`)."""
    text = resources.files("installer.platform").joinpath("data/releases.yaml").read_text()
    data = yaml.safe_load(text)

    def entries(section: str, kind: str) -> dict[str, SourceEntry]:
        out = {}
        for key, item in (data.get(section) or {}).items():
            out[str(key)] = SourceEntry(
                key=str(key),
                project=item["project"],
                tag=str(item["tag"]),
                commit=item["commit"],
                digest=item["digest"],
                keep=tuple(item.get("keep") or ()),
                kind=item.get("kind", kind),
                url=item.get("url", ""),
                offline=item.get("offline", ""),
            )
        return out

    remotes = entries("remotes", "repository")
    urls = {}
    for key, item in (data.get("remotes") or {}).items():
        for url in item.get("urls", []):
            urls[url] = (str(key), item.get("subpath_prefix", ""))
    return Catalog(entries("releases", "release"), remotes, entries("addons", "release"), urls)


# ---------------------------------------------------------------------------- digest


def keep_path(relative: str, keep: tuple[str, ...]) -> bool:
    """Whether a file at `relative` (POSIX, inside the tree) survives the filter."""
    parts = PurePosixPath(relative).parts
    if not parts:
        return False
    if keep and not any(relative == k or relative.startswith(k.rstrip("/") + "/") for k in keep):
        return False
    name = parts[-1]
    if name in _DROP_NAMES or name.endswith(_DROP_SUFFIXES):
        return False
    if any(part in _DROP_DIRS for part in parts[:-1]):
        return False
    # Upstream controllers' unit tests (Go and Python) are left out of the copies.
    if name.endswith(("_test.go", "_test.py")) or (
        name.startswith("test_") and name.endswith(".py")
    ):
        return False
    return True


def tree_files(root: Path, keep: tuple[str, ...] = ()) -> list[str]:
    """Sorted relative POSIX paths of the regular files under `root` that pass the filter."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(root)
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            if (Path(dirpath) / name).is_file() and keep_path(rel, keep):
                found.append(rel)
    return sorted(found)


def tree_digest(root: Path, keep: tuple[str, ...] = ()) -> str:
    """sha256 over the filtered tree: for each sorted path, the path, NUL, size, NUL, bytes.

    The size prefix makes the encoding unambiguous (no two trees share a byte stream).
    """
    hasher = hashlib.sha256()
    for rel in tree_files(root, keep):
        data = (root / rel).read_bytes()
        hasher.update(rel.encode("utf-8") + b"\0" + str(len(data)).encode() + b"\0")
        hasher.update(data)
    return "sha256:" + hasher.hexdigest()


# ---------------------------------------------------------------------------- cache


def cache_root() -> Path:
    """kfstack's download cache (override with KFSTACK_CACHE_DIR)."""
    env = os.environ.get("KFSTACK_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kfstack"


class Sources:
    """Resolves catalog entries to verified directories on disk."""

    def __init__(
        self,
        *,
        release_dir: str | Path | None = None,
        remote_dir: str | Path | None = None,
        addons_dir: str | Path | None = None,
        cache: Path | None = None,
        offline: bool = False,
    ) -> None:
        self.release_dir = Path(release_dir).expanduser() if release_dir else None
        self.remote_dir = Path(remote_dir).expanduser() if remote_dir else None
        self.addons_dir = Path(addons_dir).expanduser() if addons_dir else None
        self.cache = cache or cache_root()
        self.offline = offline
        self._digests: dict[Path, str] = {}

    @classmethod
    def for_manifests(
        cls, manifests: str | Path | None, version: str | None = None, **kwargs: Any
    ) -> Sources:
        """Sources for a spec's `kubeflow.manifests` (a release directory, or None; a
        relative one is taken from the current directory, so callers holding a spec pass
        `Spec.local_path` of it, as `render.sources_for` does).

        A local release directory may sit beside a `remote/` mirror (as the offline copies
        do: `<dir>/../remote/index.json`); add-ons come from `KFSTACK_ADDONS_DIR` if set.
        """
        release = Path(manifests).expanduser().resolve() if manifests else None
        if release is None and os.environ.get("KFSTACK_KUBEFLOW_MIRROR") and version:
            # A local mirror of several releases laid out as `<version>/` plus `remote/`
            # (an air-gapped site's copy, or the offline copies on a build machine).
            candidate = Path(os.environ["KFSTACK_KUBEFLOW_MIRROR"]).expanduser() / version
            release = candidate.resolve() if candidate.is_dir() else None
        remote = None
        if release is not None and (release.parent / "remote" / "index.json").exists():
            remote = release.parent / "remote"
        addons = os.environ.get("KFSTACK_ADDONS_DIR")
        return cls(release_dir=release, remote_dir=remote, addons_dir=addons, **kwargs)

    def digest_of(self, path: Path, keep: tuple[str, ...] = ()) -> str:
        key = path.resolve()
        if key not in self._digests:
            self._digests[key] = tree_digest(path, keep)
        return self._digests[key]

    def release(self, version: str) -> ResolvedSource:
        """The release tree for `version`.

        Raises:
            UserError: the local directory is missing or not a release tree.
            KfstackError: the download failed or its digest does not match the catalog.
        """
        entry = catalog().release(version)
        if self.release_dir is not None:
            if not (self.release_dir / "applications").is_dir():
                raise UserError(
                    f"kubeflow.manifests: {self.release_dir} is not a Kubeflow release tree "
                    "(no applications/ folder)",
                    hint="point it at a checkout of kubeflow/manifests at the release tag",
                )
            digest = self.digest_of(self.release_dir, entry.keep)
            if digest != entry.digest:
                LOG.warning(
                    "local release %s differs from the pinned %s %s (%s)",
                    self.release_dir,
                    entry.project,
                    entry.tag,
                    digest,
                )
            return ResolvedSource(entry, self.release_dir, digest, f"local:{self.release_dir}")
        return self._cached(entry)

    def remote(self, key: str) -> ResolvedSource:
        """A remote base (Argo Workflows, JobSet, LWS) by catalog key.

        Raises:
            KfstackError: not available offline and the download failed or mismatched.
        """
        return self._local_or_cached(catalog().remotes[key], self.remote_dir)

    def addon(self, key: str) -> ResolvedSource:
        """A cluster add-on's release tree by catalog key (`k8s-device-plugin` ...)."""
        return self._local_or_cached(catalog().addons[key], self.addons_dir)

    def _local_or_cached(self, entry: SourceEntry, local_root: Path | None) -> ResolvedSource:
        if local_root is not None:
            local = local_root / entry.offline
            if local.exists():
                return ResolvedSource(entry, local, self.digest_of(local, entry.keep), "local")
        return self._cached(entry)

    def _cached(self, entry: SourceEntry) -> ResolvedSource:
        target = self.cache / "sources" / entry.key
        # The marker sits beside the tree so the tree holds exactly the filtered files.
        marker = target.parent / f"{entry.key}.digest"
        if marker.exists() and marker.read_text().strip() == entry.digest:
            return ResolvedSource(entry, target, entry.digest, "cache")
        if self.offline:
            raise UserError(
                f"{entry.project} {entry.tag} is not in the cache {self.cache} and kfstack is "
                "offline",
                hint="copy a populated cache here, or set kubeflow.manifests to a local copy",
            )
        self._download(entry, target)
        marker.write_text(entry.digest + "\n")
        return ResolvedSource(entry, target, entry.digest, "download")

    def _download(self, entry: SourceEntry, target: Path) -> None:
        LOG.info("downloading %s", entry.archive_url)
        try:
            with urllib.request.urlopen(entry.archive_url, timeout=DOWNLOAD_TIMEOUT) as resp:
                payload = resp.read()
        except (urllib.error.URLError, OSError) as exc:
            raise DownloadUnavailable(
                f"cannot download {entry.project} {entry.tag} from {entry.archive_url} ({exc})",
                hint="check the network, or set kubeflow.manifests to a local copy",
            ) from None
        staging = Path(tempfile.mkdtemp(prefix=f".{entry.key}-", dir=_ensure(target.parent)))
        try:
            if entry.kind == "file":
                name = PurePosixPath(entry.offline).name or "manifests.yaml"
                (staging / name).write_bytes(payload)
            else:
                _extract(payload, staging, entry.keep)
            got = tree_digest(staging, entry.keep)
            if got != entry.digest:
                raise KfstackError(
                    f"{entry.archive_url} does not match the pinned digest "
                    f"(expected {entry.digest}, got {got})",
                    hint="the tag may have been moved upstream; do not use this download",
                )
            replace_dir(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)


def replace_dir(staging: Path, final: Path) -> None:
    """Swap a finished directory into place; the old one is removed only afterwards, so
    a failure before this point leaves the previous version untouched."""
    old = None
    if final.exists() or final.is_symlink():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _extract(payload: bytes, dest: Path, keep: tuple[str, ...]) -> None:
    """Extract a GitHub tag archive (one top folder) through the filter."""
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            parts = PurePosixPath(member.name).parts[1:]  # drop "<repo>-<tag>/"
            if not parts or any(p in ("..", "") for p in parts):
                continue
            rel = "/".join(parts)
            if not keep_path(rel, keep):
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            handle = archive.extractfile(member)
            if handle is not None:
                out.write_bytes(handle.read())
