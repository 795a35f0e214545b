"""GitOps: every render committed to Git, and a platform applied exactly as committed.

    publish(spec, spec_path, files, workdir, store, reporter) -> Published
      1. sync    kfstack's own clone of `gitops.repository` (<workdir>/gitops/repo):
                 fetch, then create or fast-forward the branch; refuse foreign changes
                 under `gitops.path`, in the clone and in a local repository's worktree
      2. write   replace <path>/ with the render: terraform/, platform/ (without the
                 `_upstream` link into the vendored release), kfstack.lock, kfstack.yaml
      3. scan    every staged file against every secret value kfstack knows (raw and
                 base64); a hit restores <path>/ and aborts naming the file
      4. commit  only when the staged content differs from HEAD; the message names the
                 environment, the Kubeflow version, the spec digest and kfstack's version
      5. push    when `gitops.push`; a rejection keeps the commit for the next run

    checkout(spec, spec_path, workdir, ref, reporter) -> Checkout
      the platform tree as committed at REF, extracted with `git archive` into
      <workdir>/gitops/trees/<sha>/: `kfstack apply --from-git REF` applies that, not a
      fresh render, so a deployment is reproducible from its commit alone.

Why a clone kfstack owns instead of the user's checkout: the render replaces a whole
folder, which must never race a person's edits; the clone is disposable, and the only
state it holds that matters (a commit not pushed yet) is exactly what a retry needs.
Everything goes through the real `git` binary, with the user's own configuration, so
ssh keys, credential helpers and `insteadOf` rules work as they do for `git push`; an
https token from `gitops.credential` reaches git through an inline credential helper
reading an environment variable of the child process only, never its command line.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installer import __version__, redact
from installer.console import Reporter
from installer.errors import KfstackError, ToolError, ToolMissingError, UserError
from installer.secrets import SecretStore, spec_refs
from installer.spec import paths as spec_paths
from installer.spec.model import SecretRef, Spec, git_url_scheme
from installer.workdir import Workdir

LOG = logging.getLogger("kfstack.gitops")

SPEC_NAME = "kfstack.yaml"
_CRED_HELPER = (
    '!f() { echo "username=$KFSTACK_GIT_USERNAME"; echo "password=$KFSTACK_GIT_PASSWORD"; }; f'
)


@dataclass
class Published:
    """What `publish` did: the commit the render is in, and whether it is new or pushed."""

    repository: str
    branch: str
    path: str
    commit: str
    changed: bool
    pushed: bool | None
    clone: Path
    files: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "branch": self.branch,
            "path": self.path,
            "commit": self.commit,
            "changed": self.changed,
            "pushed": self.pushed,
            "clone": str(self.clone),
            "files": self.files,
        }

    def line(self) -> str:
        where = f"{self.repository} {self.branch}:{self.path}"
        state = "committed" if self.changed else "unchanged, still"
        push = {True: ", pushed", False: "", None: " (not pushed: gitops.push is false)"}
        return f"{state} {self.commit[:12]} in {where}{push[self.pushed]}"


@dataclass
class Checkout:
    """A platform tree extracted from a commit."""

    commit: str
    platform: Path


def render_files(out: Path, spec_path: Path) -> dict[str, Path]:
    """The files of a render in `out` (as `kfstack render --out` writes it), by the name
    each gets inside the repository folder."""
    return {
        "terraform": out / "terraform",
        "platform": out / "platform",
        "kfstack.lock": out / "kfstack.lock",
        SPEC_NAME: spec_path,
    }


# ---------------------------------------------------------------------------- publish


def publish(
    spec: Spec,
    spec_path: Path,
    files: dict[str, Path],
    workdir: Workdir,
    store: SecretStore,
    reporter: Reporter,
) -> Published:
    """Commit the render `files` to the gitops branch (steps in the module docstring).

    Raises:
        ToolMissingError: no git binary.
        UserError: the repository is missing, a foreign change is under the path, or a
            local repository has the branch checked out (git would refuse the push).
        KfstackError: a secret value is in a staged file (nothing is committed), the
            remote cannot be reached or rejected the push (the commit stays).
        ToolError: any other git failure.
    """
    repo = _Repo.for_spec(spec, spec_path, workdir)
    reporter.line(f"gitops: {repo.display} {repo.branch}:{repo.path}")
    online = repo.sync(reporter)
    repo.refuse_foreign_changes()
    guard = repo.stage(files)
    try:
        staged = repo.staged()
        repo.scan(staged, _needles(spec, files, store))
        changed = bool(staged)
        if changed:
            repo.commit(_message(spec, spec_path, repo.path))
    except BaseException:
        guard.restore()
        raise
    sha = repo.head()
    if sha is None:  # pragma: no cover - an empty render still has the spec and the lock
        raise KfstackError("the render produced no files to commit")
    pushed = repo.push(sha, online) if repo.push_enabled else None
    published = Published(
        repository=repo.display,
        branch=repo.branch,
        path=repo.path,
        commit=sha,
        changed=changed,
        pushed=pushed,
        clone=repo.clone,
        files=len(repo.tracked()),
    )
    LOG.info("gitops: %s", published.line())
    return published


def checkout(
    spec: Spec, spec_path: Path, workdir: Workdir, ref: str, reporter: Reporter
) -> Checkout:
    """The platform tree committed at `ref` (a SHA, branch or tag), extracted read-only.

    Raises:
        UserError: `ref` names no commit, the commit has no platform tree at the path,
            or the tree is another platform's.
        KfstackError / ToolError: git failed (no clone and the remote is unreachable).
    """
    repo = _Repo.for_spec(spec, spec_path, workdir)
    repo.sync(reporter, move_branch=False)
    sha = repo.resolve(ref)
    inside = f"{repo.path}/platform"
    if not repo.git("ls-tree", "--name-only", sha, "--", f"{inside}/index.yaml").stdout.strip():
        raise UserError(
            f"--from-git {ref}: commit {sha[:12]} has no platform tree at {inside}/",
            hint="check gitops.path, or give a commit `kfstack render --commit` made",
        )
    dest = workdir.gitops / "trees" / sha
    if not (dest / inside / "index.yaml").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tree-", dir=dest.parent))
        try:
            archive = repo.git("archive", "--format=tar", sha, "--", inside, text=False).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(staging, filter="data")
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(staging, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    from installer.platform.tree import PlatformTree

    tree = PlatformTree.open(dest / inside)
    if tree.platform != spec.full_name:
        raise UserError(
            f"--from-git {ref}: the tree at {inside}/ is platform {tree.platform}, "
            f"not {spec.full_name}",
            hint="check gitops.path and the spec's name and environment",
        )
    reporter.ok(
        f"gitops: platform tree from commit {sha[:12]} ({len(tree.components)} components)"
    )
    return Checkout(sha, dest / inside)


# ---------------------------------------------------------------------------- the clone


class _Guard:
    """Puts <path>/ back as HEAD has it when a step after writing fails."""

    def __init__(self, repo: _Repo) -> None:
        self.repo = repo

    def restore(self) -> None:
        repo = self.repo
        repo.git("rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", repo.path)
        shutil.rmtree(repo.clone / repo.path, ignore_errors=True)
        head = repo.head()
        if head and repo.git("ls-tree", "--name-only", head, "--", repo.path).stdout.strip():
            repo.git("checkout", "-q", head, "--", repo.path)


@dataclass
class _Repo:
    url: str
    display: str
    local: Path | None
    base: Path  # the spec's folder, which a relative local repository is read from
    branch: str
    path: str
    clone: Path
    push_enabled: bool
    env: dict[str, str]
    remote_args: list[str]

    @classmethod
    def for_spec(cls, spec: Spec, spec_path: Path, workdir: Workdir) -> _Repo:
        if shutil.which("git") is None:
            raise ToolMissingError(
                "git", "not found on PATH", hint="install git (gitops.enabled needs it)"
            )
        git = spec.gitops
        url, local = git.repository, None
        base = Path(spec_path).resolve().parent
        if git_url_scheme(url) is None:
            local = spec_paths.resolve(url, base).resolve()
            url = str(local)
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
            "GIT_AUTHOR_NAME": git.author.name,
            "GIT_AUTHOR_EMAIL": git.author.email,
            "GIT_COMMITTER_NAME": git.author.name,
            "GIT_COMMITTER_EMAIL": git.author.email,
        }
        remote_args: list[str] = []
        if git.credential is not None:
            token = SecretStore(workdir.secrets, spec=spec).resolve(
                git.credential, field="gitops.credential"
            )
            env.update(KFSTACK_GIT_USERNAME=git.username, KFSTACK_GIT_PASSWORD=token)
            # The empty helper first drops the user's helpers for this one call.
            remote_args = ["-c", "credential.helper=", "-c", f"credential.helper={_CRED_HELPER}"]
        return cls(
            url=url,
            display=git.repository,
            local=local,
            base=base,
            branch=git.branch,
            path=git.target_path(spec.name, spec.environment),
            clone=workdir.gitops / "repo",
            push_enabled=git.push,
            env=env,
            remote_args=remote_args,
        )

    # -- running git

    def git(
        self,
        *args: str,
        cwd: Path | None = None,
        check: bool = True,
        remote: bool = False,
        text: bool = True,
    ) -> subprocess.CompletedProcess:
        command = ["git", *(self.remote_args if remote else []), *args]
        where = cwd or self.clone
        LOG.debug("git %s (in %s)", " ".join(args), where)
        proc = subprocess.run(
            command,
            cwd=where,
            env=self.env,
            capture_output=True,
            text=text,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        stderr = proc.stderr if text else proc.stderr.decode("utf-8", "replace")
        if stderr.strip():
            LOG.debug("git %s: %s", args[0], redact.redact(stderr.strip()))
        if check and proc.returncode != 0:
            raise ToolError(
                f"git {args[0]} failed in {where}",
                command=["git", *args],
                exit_code=proc.returncode,
                stderr_tail=redact.redact(stderr),
            )
        return proc

    def rev(self, name: str) -> str | None:
        proc = self.git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", check=False)
        if proc.returncode != 0:
            return None
        return proc.stdout.strip() or None

    def head(self) -> str | None:
        return self.rev("HEAD")

    # -- step 1: sync

    def sync(self, reporter: Reporter, *, move_branch: bool = True) -> bool:
        """Create or update the clone; True when the remote answered."""
        if self.local is not None:
            # Reading a commit (move_branch False) cannot disturb the user's worktree.
            self._check_local_repository(writing=move_branch)
        if not (self.clone / ".git").is_dir():
            self._create_clone()
            online = True
        else:
            if self.git("remote", "get-url", "origin", check=False).stdout.strip() != self.url:
                self.git("remote", "set-url", "origin", self.url)
            proc = self.git("fetch", "--quiet", "--prune", "origin", check=False, remote=True)
            online = proc.returncode == 0
            if not online:
                reporter.warn(
                    f"gitops: cannot reach {self.display} ({_last_line(proc.stderr)}); "
                    "working from kfstack's clone as last fetched"
                )
        if move_branch:
            self._checkout_branch()
        return online

    def _check_local_repository(self, *, writing: bool) -> None:
        assert self.local is not None
        probe = subprocess.run(
            ["git", "-C", str(self.local), "rev-parse", "--is-bare-repository"],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        if not self.local.is_dir():
            raise spec_paths.not_found(
                "gitops.repository",
                self.display,
                self.base,
                hint=f"create it with `git init --bare {self.local}`, or fix the path",
            )
        if probe.returncode != 0:
            raise UserError(
                f"gitops.repository: {self.local} is not a Git repository",
                hint=f"create it with `git init --bare {self.local}`, or fix the path",
            )
        if probe.stdout.strip() == "true" or not writing:
            return
        dirty = self._porcelain(self.local)
        if dirty:
            raise UserError(
                f"gitops.repository: {self.local} has uncommitted changes under "
                f"{self.path}/: {_listing(dirty)}",
                hint=f"commit or discard them in {self.local} first "
                f"(`git -C {self.local} status -- {self.path}`); kfstack changed nothing",
            )
        head = self.git("symbolic-ref", "-q", "HEAD", cwd=self.local, check=False).stdout
        deny = self.git(
            "config", "receive.denyCurrentBranch", cwd=self.local, check=False
        ).stdout.strip()
        if (
            self.push_enabled
            and head.strip() == f"refs/heads/{self.branch}"
            and deny
            not in (
                "updateInstead",
                "ignore",
                "false",
            )
        ):
            raise UserError(
                f"gitops.branch: {self.branch} is checked out in {self.local}, and git "
                "refuses to push into a checked-out branch",
                hint=f"use a bare repository (`git clone --bare {self.local} REPO.git`), "
                f"another gitops.branch, or `git -C {self.local} config "
                "receive.denyCurrentBranch updateInstead`",
            )

    def _create_clone(self) -> None:
        self.clone.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".repo-", dir=self.clone.parent))
        try:
            self.git("init", "-q", f"--initial-branch={self.branch}", str(staging), cwd=staging)
            self.git("remote", "add", "origin", self.url, cwd=staging)
            proc = self.git("fetch", "--quiet", "origin", cwd=staging, check=False, remote=True)
            if proc.returncode != 0:
                raise KfstackError(
                    f"cannot fetch {self.display}: {_last_line(proc.stderr)}",
                    hint="check gitops.repository and your git/ssh credentials "
                    "(gitops.credential for https); nothing was changed",
                )
            os.replace(staging, self.clone)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _checkout_branch(self) -> None:
        local = self.rev(f"refs/heads/{self.branch}")
        upstream = self.rev(f"refs/remotes/origin/{self.branch}")
        current = self.git("symbolic-ref", "-q", "HEAD", check=False).stdout.strip()
        if local is None and upstream is not None:
            self.git("checkout", "-q", "-B", self.branch, upstream)
        elif local is None:
            if current != f"refs/heads/{self.branch}":
                # gitops.branch changed to one nobody has yet: start it empty.
                self.git("checkout", "-q", "--orphan", self.branch)
                self.git("rm", "-r", "-q", "-f", "--ignore-unmatch", ".")
        else:
            if current != f"refs/heads/{self.branch}":
                self.git("checkout", "-q", self.branch)
            if upstream and upstream != local and self._is_ancestor(local, upstream):
                self.git("merge", "-q", "--ff-only", upstream)

    def _is_ancestor(self, older: str, newer: str) -> bool:
        return self.git("merge-base", "--is-ancestor", older, newer, check=False).returncode == 0

    def _porcelain(self, where: Path) -> list[str]:
        out = self.git(
            "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", self.path, cwd=where
        ).stdout
        return [entry[3:] for entry in out.split("\0") if len(entry) > 3]

    def refuse_foreign_changes(self) -> None:
        """Raises UserError when someone edited the render in kfstack's clone."""
        dirty = self._porcelain(self.clone)
        if dirty:
            raise UserError(
                f"kfstack's clone {self.clone} has changes under {self.path}/ that kfstack did "
                f"not make: {_listing(dirty)}",
                hint="change the spec instead and render again; to drop the edits run "
                f"`git -C {self.clone} checkout -- {self.path} && "
                f"git -C {self.clone} clean -fd -- {self.path}`",
            )

    # -- steps 2 to 4

    def stage(self, files: dict[str, Path]) -> _Guard:
        """Replace <path>/ with `files` and stage it; the guard undoes it."""
        guard = _Guard(self)
        target = self.clone / self.path
        try:
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            for name, source in sorted(files.items()):
                if source.is_dir():
                    shutil.copytree(source, target / name, ignore=_skip_links_and_caches)
                elif source.is_file():
                    shutil.copyfile(source, target / name)
            self.git("add", "-A", "--", self.path)
        except BaseException:
            guard.restore()
            raise
        return guard

    def staged(self) -> list[str]:
        out = self.git("diff", "--cached", "--name-only", "-z", "--", self.path).stdout
        return [name for name in out.split("\0") if name]

    def tracked(self) -> list[str]:
        out = self.git("ls-files", "-z", "--", self.path).stdout
        return [name for name in out.split("\0") if name]

    def scan(self, staged: list[str], needles: list[tuple[str, bytes]]) -> None:
        """Raises KfstackError naming the first staged file holding a secret value."""
        for name in staged:
            path = self.clone / name
            if not path.is_file():
                continue
            data = path.read_bytes()
            for label, needle in needles:
                if needle in data:
                    raise KfstackError(
                        f"refusing to commit: {name} contains the value of "
                        f"{label}; nothing was committed",
                        hint="a secret value must stay out of the render: report this as a "
                        "kfstack bug, or keep the value in the secret store, not the spec",
                    )

    def commit(self, message: str) -> None:
        self.git("commit", "-q", "--no-verify", "-m", message, "--", self.path)

    # -- step 5

    def push(self, sha: str, online: bool) -> bool:
        """Push the branch; True when the remote has `sha`.

        Raises:
            KfstackError: rejected or unreachable (the commit stays in the clone).
        """
        if online and self.rev(f"refs/remotes/origin/{self.branch}") == sha:
            return True
        ref = f"refs/heads/{self.branch}"
        proc = self.git("push", "--porcelain", "origin", f"{ref}:{ref}", check=False, remote=True)
        if proc.returncode == 0:
            return True
        output = f"{proc.stdout}\n{proc.stderr}"
        kept = f"the commit {sha[:12]} stays in {self.clone}"
        again = "run the same kfstack command again to push it"
        if "non-fast-forward" in output or "fetch first" in output or "[rejected]" in output:
            raise KfstackError(
                f"push to {self.display} rejected: its branch {self.branch} has commits "
                "kfstack's clone does not have (non-fast-forward)",
                hint=f"{kept}: merge the remote's commits with `git -C {self.clone} pull "
                f"--rebase origin {self.branch}`, then {again}",
            )
        if "[remote rejected]" in output:
            reason = next((ln for ln in output.splitlines() if "[remote rejected]" in ln), "")
            said = [
                ln[len("remote:") :].strip()
                for ln in output.splitlines()
                if ln.startswith("remote:") and ln[len("remote:") :].strip()
            ]
            raise KfstackError(
                f"push to {self.display} rejected by the remote: {reason.strip()}"
                + (f"\n  the remote said: {redact.redact(' / '.join(said))}" if said else ""),
                hint=f"{kept}: check the branch's protection rules and hooks on the remote, "
                f"then {again}",
            )
        raise KfstackError(
            f"cannot push to {self.display}: {_last_line(proc.stderr)}",
            hint=f"{kept}: check gitops.repository and your git/ssh credentials "
            f"(gitops.credential for https), then {again}",
        )

    def resolve(self, ref: str) -> str:
        """Raises UserError when `ref` names no commit in the clone or on the remote."""
        for candidate in (ref, f"refs/remotes/origin/{ref}", f"refs/tags/{ref}"):
            sha = self.rev(candidate)
            if sha:
                return sha
        raise UserError(
            f"--from-git {ref}: no such commit, branch or tag in {self.display}",
            hint="give the commit SHA `kfstack render --commit` printed, or a branch or tag",
        )


# ---------------------------------------------------------------------------- pieces


def _needles(spec: Spec, files: dict[str, Path], store: SecretStore) -> list[tuple[str, bytes]]:
    """(label, bytes) for every secret value kfstack knows, raw and base64-encoded."""
    values: list[tuple[str, str]] = [
        ("a generated secret", value) for value in store.known_values()
    ]
    refs: dict[str, SecretRef] = {ref.describe(): ref for _, ref in spec_refs(spec)}
    platform = files.get("platform")
    if platform is not None and platform.is_dir():
        import yaml

        for path in sorted(platform.glob("*/secrets.yaml")):
            for entry in yaml.safe_load(path.read_text()) or []:
                for source in (entry.get("data") or {}).values():
                    if "env" in source or "file" in source:
                        ref = SecretRef(env=source.get("env"), file=source.get("file"))
                        refs[ref.describe()] = ref
    for label, ref in sorted(refs.items()):
        value = store.peek(ref)
        if value:
            values.append((f"the secret {label}", value))
    needles = []
    for label, value in values:
        if len(value) < 4:  # as installer.redact: shorter values match ordinary text
            continue
        redact.register(value)
        raw = value.encode()
        needles.append((label, raw))
        needles.append((f"{label} (base64)", base64.b64encode(raw)))
    return needles


def spec_digest(spec_path: Path) -> str:
    return "sha256:" + hashlib.sha256(Path(spec_path).read_bytes()).hexdigest()


def _message(spec: Spec, spec_path: Path, path: str) -> str:
    return (
        f"kfstack: render {spec.full_name} (Kubeflow {spec.kubeflow.version})\n\n"
        f"Environment: {spec.environment}\n"
        f"Kubeflow-Version: {spec.kubeflow.version}\n"
        f"Spec-Digest: {spec_digest(spec_path)}\n"
        f"Kfstack-Version: {__version__}\n"
        f"Platform-Path: {path}\n"
    )


def _skip_links_and_caches(directory: str, names: list[str]) -> set[str]:
    # `_upstream` links into the vendored release in the cache: machine-local, huge, and
    # not part of what the engine applies (manifests.yaml is).
    return {
        name
        for name in names
        if os.path.islink(os.path.join(directory, name)) or name == "__pycache__"
    }


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return redact.redact(lines[-1]) if lines else "no message from git"


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:5])
    return shown + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
