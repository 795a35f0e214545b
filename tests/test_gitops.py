"""GitOps with the real git binary: a local bare repository stands in for the remote
(file transport, the same push/fetch protocol code paths git uses for any remote);
renders are committed once, changes make one commit, pushes, rejected pushes, foreign
changes and planted secret values behave as documented in installer/gitops.py, and
`kfstack apply --from-git` applies a committed tree on the simulated cluster."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import EXAMPLES, find_shared

from installer import gitops
from installer.cli import cli
from installer.console import Reporter
from installer.errors import KfstackError, UserError
from installer.secrets import SecretStore
from installer.spec import load_spec
from installer.workdir import Workdir

SHARED = find_shared()
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git binary")


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(autouse=True)
def _git_reads_only_this_test(hermetic_git):
    """Every test here runs git with conftest's hermetic configuration."""


@pytest.fixture
def site(tmp_path):
    """A spec directory with a bare repository `remote.git` beside the spec."""
    git("init", "-q", "--bare", "--initial-branch=main", "remote.git", cwd=tmp_path)
    return tmp_path


def write_spec(directory: Path, **settings) -> Path:
    data = {
        "name": "demo",
        "environment": "dev",
        "target": "existing",
        "existing": {"kubeconfig": str(directory / "kubeconfig"), "context": "simcluster"},
        "gitops": {"enabled": True, "repository": "./remote.git", **settings},
    }
    path = directory / "kfstack.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def fake_render(out: Path, *, teams: tuple[str, ...] = ("a",), planted: str = "") -> Path:
    """A small render in the `kfstack render --out` layout (the content is test data; the
    commit path under test is the real one)."""
    comp = out / "platform" / "010-teams"
    comp.mkdir(parents=True, exist_ok=True)
    (out / "terraform").mkdir(exist_ok=True)
    (out / "terraform" / "main.tf.json").write_text('{"terraform": {}}\n')
    index = {
        "apiVersion": "kfstack.dev/v1",
        "kind": "PlatformIndex",
        "platform": "demo-dev",
        "kubeflow_version": "26.03",
        "components": [{"name": "teams", "path": "010-teams", "depends_on": [], "digest": "x"}],
    }
    (out / "platform" / "index.yaml").write_text(yaml.safe_dump(index))
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": t, "labels": {}}}
        for t in teams
    ]
    if planted:
        docs[0]["metadata"]["annotations"] = {"note": planted}
    (comp / "manifests.yaml").write_text(yaml.safe_dump_all(docs))
    secrets = [{"name": "admin", "namespace": "auth", "data": {"pw": {"generated": "admin-pw"}}}]
    (comp / "secrets.yaml").write_text(yaml.safe_dump(secrets))
    upstream = out / "upstream-cache"
    upstream.mkdir(exist_ok=True)
    if not (out / "platform" / "_upstream").is_symlink():
        os.symlink(upstream, out / "platform" / "_upstream")
    (out / "kfstack.lock").write_text("kubeflow: {version: '26.03'}\n")
    return out


def publish(spec_path: Path, out: Path) -> gitops.Published:
    spec = load_spec(spec_path).spec
    wd = Workdir.for_spec(spec, spec_path).ensure()
    files = gitops.render_files(out, spec_path)
    return gitops.publish(spec, spec_path, files, wd, SecretStore(wd.secrets), Reporter())


def clone_of(spec_path: Path) -> Path:
    return spec_path.parent / ".kfstack" / "demo-dev" / "gitops" / "repo"


# ---------------------------------------------------------------------------- commit


def test_a_render_is_committed_and_pushed_once_and_an_unchanged_render_adds_no_commit(site):
    spec_path = write_spec(site, push=True)
    out = fake_render(site / "out")

    first = publish(spec_path, out)
    again = publish(spec_path, out)

    assert (first.changed, first.pushed) == (True, True)
    assert (again.changed, again.commit) == (False, first.commit)
    remote = site / "remote.git"
    assert git("rev-list", "--count", "main", cwd=remote) == "1"
    assert git("rev-parse", "main", cwd=remote) == first.commit
    assert git("ls-tree", "-r", "--name-only", "main", cwd=remote).splitlines() == [
        "demo/dev/kfstack.lock",
        "demo/dev/kfstack.yaml",
        "demo/dev/platform/010-teams/manifests.yaml",
        "demo/dev/platform/010-teams/secrets.yaml",
        "demo/dev/platform/index.yaml",
        "demo/dev/terraform/main.tf.json",
    ]
    message = git("log", "-1", "--format=%B", "main", cwd=remote)
    digest = hashlib.sha256(spec_path.read_bytes()).hexdigest()
    assert message.startswith("kfstack: render demo-dev (Kubeflow 26.03)")
    for trailer in (
        "Environment: dev",
        "Kubeflow-Version: 26.03",
        f"Spec-Digest: sha256:{digest}",
        "Kfstack-Version: 0.1.0",
    ):
        assert trailer in message
    assert git("log", "-1", "--format=%an <%ae>", "main", cwd=remote) == (
        "kfstack <kfstack@localhost>"
    )


def test_a_changed_render_makes_one_commit_with_exactly_the_changed_files(site):
    spec_path = write_spec(site, push=True, path="envs/demo", author={"name": "Ops"})
    out = fake_render(site / "out")
    first = publish(spec_path, out)
    fake_render(out, teams=("a", "b"))
    (out / "terraform" / "main.tf.json").unlink()

    second = publish(spec_path, out)

    remote = site / "remote.git"
    assert second.changed and second.commit != first.commit
    assert git("rev-list", "--count", "main", cwd=remote) == "2"
    diff = git("diff", "--name-status", first.commit, second.commit, cwd=remote).splitlines()
    assert diff == [
        "M\tenvs/demo/platform/010-teams/manifests.yaml",
        "D\tenvs/demo/terraform/main.tf.json",
    ]
    patch = git("diff", first.commit, second.commit, "--", "*manifests.yaml", cwd=remote)
    assert "+  name: b" in patch
    assert git("log", "-1", "--format=%an", "main", cwd=remote) == "Ops"


def test_without_push_the_commit_stays_in_kfstacks_clone(site):
    spec_path = write_spec(site)

    result = publish(spec_path, fake_render(site / "out"))

    assert result.pushed is None
    assert git("rev-parse", "HEAD", cwd=clone_of(spec_path)) == result.commit
    assert git("for-each-ref", cwd=site / "remote.git") == ""


# ---------------------------------------------------------------------------- push failures


def test_a_rejected_push_names_the_remote_and_keeps_the_commit_for_a_retry(site):
    out = fake_render(site / "out")
    url = f"file://{site}/remote.git"
    local = publish(write_spec(site, repository=url), out)
    other = site / "other"
    git("clone", "-q", str(site / "remote.git"), str(other), cwd=site)
    (other / "README.md").write_text("someone else's commit\n")
    git("add", "README.md", cwd=other)
    git("commit", "-q", "-m", "readme", cwd=other)
    git("push", "-q", "origin", "HEAD:main", cwd=other)
    spec_path = write_spec(site, push=True, repository=url)

    with pytest.raises(KfstackError) as err:
        publish(spec_path, out)

    text = err.value.render()
    assert err.value.exit_code == 1
    assert f"push to {url} rejected" in text and "non-fast-forward" in text
    clone = clone_of(spec_path)
    kept = git("rev-parse", "HEAD", cwd=clone)  # the spec changed (push: true): a new commit
    assert git("rev-parse", "HEAD~1", cwd=clone) == local.commit
    assert f"the commit {kept[:12]} stays in {clone}" in text
    assert "pull --rebase origin main" in text
    git("pull", "-q", "--rebase", "origin", "main", cwd=clone)
    retried = publish(spec_path, out)
    assert (retried.changed, retried.pushed) == (False, True)
    remote_files = git("ls-tree", "-r", "--name-only", "main", cwd=site / "remote.git")
    assert "README.md" in remote_files and "demo/dev/kfstack.yaml" in remote_files


def test_a_push_a_server_hook_declines_names_its_reason_and_keeps_the_commit(site):
    hook = site / "remote.git" / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected: open a merge request' >&2\nexit 1\n")
    hook.chmod(0o755)
    spec_path = write_spec(site, push=True)

    with pytest.raises(KfstackError) as err:
        publish(spec_path, fake_render(site / "out"))

    assert err.value.message.startswith("push to ./remote.git rejected by the remote: ")
    assert "pre-receive hook declined" in err.value.message
    assert "the remote said: main is protected: open a merge request" in err.value.message
    kept = git("rev-parse", "HEAD", cwd=clone_of(spec_path))
    assert f"the commit {kept[:12]} stays in" in (err.value.hint or "")
    assert git("for-each-ref", cwd=site / "remote.git") == ""


def test_an_unreachable_remote_names_it_and_keeps_the_local_commit(site):
    url = f"file://{site}/remote.git"
    spec_path = write_spec(site, push=True, repository=url)
    out = fake_render(site / "out")
    first = publish(spec_path, out)
    (site / "remote.git").rename(site / "moved.git")

    with pytest.raises(KfstackError) as err:
        publish(spec_path, fake_render(out, teams=("a", "c")))

    assert f"cannot push to {url}: " in err.value.message
    assert "gitops.repository" in (err.value.hint or "")
    clone = clone_of(spec_path)
    kept = git("rev-parse", "HEAD", cwd=clone)
    assert git("rev-parse", "HEAD~1", cwd=clone) == first.commit
    (site / "moved.git").rename(site / "remote.git")
    retried = publish(spec_path, out.parent / "out")
    assert (retried.commit, retried.changed, retried.pushed) == (kept, False, True)


def test_a_missing_local_repository_is_a_usage_error_naming_the_field(tmp_path):
    spec_path = write_spec(tmp_path)
    with pytest.raises(UserError) as err:
        publish(spec_path, fake_render(tmp_path / "out"))
    assert err.value.exit_code == 2
    assert err.value.message.startswith("gitops.repository:")
    assert "git init --bare" in (err.value.hint or "")


# ---------------------------------------------------------------------------- safety


def test_foreign_changes_under_the_path_are_refused_and_nothing_changes(site):
    spec_path = write_spec(site)
    out = fake_render(site / "out")
    first = publish(spec_path, out)
    clone = clone_of(spec_path)
    (clone / "unrelated.txt").write_text("outside the path: not kfstack's business\n")
    edited = clone / "demo/dev/platform/010-teams/manifests.yaml"
    edited.write_text("hand edit\n")

    with pytest.raises(UserError) as err:
        publish(spec_path, fake_render(out, teams=("a", "b")))

    assert err.value.exit_code == 2
    assert "demo/dev/platform/010-teams/manifests.yaml" in err.value.message
    assert edited.read_text() == "hand edit\n"
    assert git("rev-parse", "HEAD", cwd=clone) == first.commit
    git("checkout", "--", "demo/dev", cwd=clone)
    assert publish(spec_path, out).commit != first.commit  # the b team is now committed


def test_a_local_working_repository_is_refused_when_it_has_changes_under_the_path(tmp_path):
    work = tmp_path / "work"
    git("init", "-q", "--initial-branch=main", str(work), cwd=tmp_path)
    (work / "demo" / "dev").mkdir(parents=True)
    (work / "demo" / "dev" / "draft.yaml").write_text("not committed\n")
    out = fake_render(tmp_path / "out")

    with pytest.raises(UserError) as dirty:
        publish(write_spec(tmp_path, repository="./work", branch="deploy"), out)
    (work / "demo" / "dev" / "draft.yaml").unlink()
    (work / "x").write_text("x\n")
    git("add", "x", cwd=work)
    git("commit", "-q", "-m", "x", cwd=work)
    with pytest.raises(UserError) as checked_out:
        publish(write_spec(tmp_path, repository="./work", push=True), out)
    pushed = publish(write_spec(tmp_path, repository="./work", branch="deploy", push=True), out)

    assert "demo/dev/draft.yaml" in dirty.value.message
    assert checked_out.value.message.startswith("gitops.branch: main is checked out")
    assert git("rev-parse", "deploy", cwd=work) == pushed.commit


@pytest.mark.parametrize("kind", ["generated", "referenced-base64"])
def test_a_planted_secret_value_aborts_the_commit_naming_the_file(site, monkeypatch, kind):
    spec_path = write_spec(site, push=True)
    out = fake_render(site / "out")
    first = publish(spec_path, out)
    wd = Workdir.for_spec(load_spec(spec_path).spec, spec_path)
    if kind == "generated":
        value = SecretStore(wd.secrets).generated("admin-pw")
        planted = value
        fake_render(out, planted=planted)
    else:
        value = "token-" + os.urandom(8).hex()
        monkeypatch.setenv("KFT_TOKEN", value)
        planted = base64.b64encode(value.encode()).decode()
        fake_render(out, planted=planted)
        secrets = out / "platform" / "010-teams" / "secrets.yaml"
        secrets.write_text(yaml.safe_dump([{"name": "t", "data": {"t": {"env": "KFT_TOKEN"}}}]))

    with pytest.raises(KfstackError) as err:
        publish(spec_path, out)

    assert err.value.exit_code == 1
    assert "demo/dev/platform/010-teams/manifests.yaml" in err.value.message
    assert value not in err.value.render() and planted not in err.value.render()
    clone = clone_of(spec_path)
    assert git("rev-parse", "HEAD", cwd=clone) == first.commit
    assert git("status", "--porcelain", cwd=clone) == ""
    assert git("rev-parse", "main", cwd=site / "remote.git") == first.commit


def test_an_https_credential_reaches_git_through_the_environment_only(tmp_path, monkeypatch):
    token = "tok-" + os.urandom(8).hex()
    monkeypatch.setenv("KFT_GIT_TOKEN", token)
    spec_path = write_spec(
        tmp_path,
        repository="https://git.example/acme/platforms.git",
        credential={"env": "KFT_GIT_TOKEN"},
        username="bot",
    )
    spec = load_spec(spec_path).spec
    repo = gitops._Repo.for_spec(spec, spec_path, Workdir.for_spec(spec, spec_path))

    asked = subprocess.run(
        ["git", *repo.remote_args, "credential", "fill"],
        input="protocol=https\nhost=git.example\n\n",
        env=repo.env,
        capture_output=True,
        text=True,
        check=True,
    )

    assert f"username=bot\npassword={token}\n" in asked.stdout
    assert token not in " ".join(repo.remote_args)


class GitOverHttp:
    """Git's own smart-HTTP server (`git http-backend`, the CGI program behind most git
    hosting front ends) behind HTTP Basic authentication, on an ephemeral port: the
    stand-in for an https remote (no TLS here; the credential path is the same)."""

    def __init__(self, root: Path, user: str, password: str) -> None:
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.user = user

    def __call__(self, environ, start_response):
        if environ.get("HTTP_AUTHORIZATION") != self.expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"authentication required\n"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        cgi = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": self.user,  # enables receive-pack (push)
            "REQUEST_METHOD": environ["REQUEST_METHOD"],
            "PATH_INFO": environ["PATH_INFO"],
            "QUERY_STRING": environ.get("QUERY_STRING", ""),
            "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": environ.get("HTTP_GIT_PROTOCOL", ""),
            "HTTP_CONTENT_ENCODING": environ.get("HTTP_CONTENT_ENCODING", ""),
        }
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=cgi, capture_output=True, check=True
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        headers = [tuple(h.split(": ", 1)) for h in head.decode().split("\r\n") if h]
        status = next((v for k, v in headers if k == "Status"), "200 OK")
        start_response(status, [(k, v) for k, v in headers if k != "Status"])
        return [payload]


@pytest.fixture
def https_remote(site):
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):  # keep the test output to the assertions
            pass

    token = "tok-" + os.urandom(8).hex()
    server = make_server("127.0.0.1", 0, GitOverHttp(site, "bot", token), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/remote.git", token
    server.shutdown()
    server.server_close()


def test_a_push_over_http_authenticates_with_the_credential_reference(
    site, https_remote, monkeypatch
):
    url, token = https_remote
    monkeypatch.setenv("KFT_GIT_TOKEN", "wrong-" + token)
    spec_path = write_spec(
        site, repository=url, push=True, credential={"env": "KFT_GIT_TOKEN"}, username="bot"
    )
    out = fake_render(site / "out")
    with pytest.raises(KfstackError) as refused:
        publish(spec_path, out)
    monkeypatch.setenv("KFT_GIT_TOKEN", token)

    pushed = publish(spec_path, out)

    assert refused.value.message.startswith(f"cannot fetch {url}: ")
    assert "wrong-" not in refused.value.render()
    assert pushed.pushed is True
    assert git("rev-parse", "main", cwd=site / "remote.git") == pushed.commit
    clone_config = (clone_of(spec_path) / ".git" / "config").read_text()
    assert token not in clone_config and url in clone_config


def test_spec_validation_names_the_gitops_field_and_exits_2(tmp_path):
    bad = {
        "gitops.branch": {"branch": "a..b"},
        "gitops.path": {"path": "../escape"},
        "gitops.repository": {"repository": "https://me:hunter22@git.example/x.git"},
        "gitops.credential": {"repository": "git@git.example:x.git", "credential": {"env": "T"}},
    }
    for field, settings in bad.items():
        spec_path = write_spec(tmp_path, **settings)
        result = CliRunner().invoke(cli, ["validate", "-c", str(spec_path)])
        assert result.exit_code == 2, result.output
        assert field in result.output
        assert "hunter22" not in result.output or field != "gitops.repository"


# ---------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_site(site, monkeypatch, platform_cache, kubeflow_release):
    """`site` with the CLI pointed at the session cache: the ../shared copies when present,
    else kfstack's own download, already in that cache."""
    monkeypatch.setenv("KFSTACK_CACHE_DIR", str(platform_cache))
    if SHARED is None:
        kubeflow_release("26.03")  # fills platform_cache, or skips when it cannot download
    else:
        monkeypatch.setenv("KFSTACK_ADDONS_DIR", str(SHARED / "addon-manifests"))
    return site


def test_render_commit_reports_the_sha_and_no_secret_value_is_anywhere_in_history(
    cli_site, monkeypatch
):
    oidc = "oidc-" + os.urandom(8).hex()
    monkeypatch.setenv("KFT_OIDC", oidc)
    data = yaml.safe_load((EXAMPLES / "existing.yaml").read_text())
    if SHARED is not None:
        data["kubeflow"]["manifests"] = str(
            SHARED / "kubeflow-manifests" / data["kubeflow"]["version"]
        )
    data["kubeflow"]["domain"] = "kf.example.com"
    data["kubeflow"]["auth"] = {
        "connectors": [
            {
                "type": "oidc",
                "issuer": "https://sso.example",
                "client_id": "kf",
                "client_secret": {"env": "KFT_OIDC"},
            }
        ]
    }
    data["gitops"] = {"enabled": True, "repository": "./remote.git", "push": True}
    spec_path = cli_site / "kfstack.yaml"
    spec_path.write_text(yaml.safe_dump(data))
    args = ["render", "-c", str(spec_path), "--out", str(cli_site / "out"), "--commit"]

    first = CliRunner().invoke(cli, [*args, "-o", "json"])
    assert first.exit_code == 0, first.output
    committed = json.loads(first.stdout)["gitops"]
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output

    remote = cli_site / "remote.git"
    assert committed["commit"] == git("rev-parse", "main", cwd=remote)
    assert (committed["changed"], committed["pushed"]) == (True, True)
    assert f"✓ commit {committed['commit']}" in again.stdout and "unchanged" in again.stdout
    assert git("rev-list", "--count", "main", cwd=remote) == "1"
    data["kubeflow"]["teams"].append({"name": "vision", "owners": ["vi@example.com"]})
    spec_path.write_text(yaml.safe_dump(data))
    changed = CliRunner().invoke(cli, [*args, "-o", "json"])
    assert changed.exit_code == 0, changed.output
    second = json.loads(changed.stdout)["gitops"]
    assert second["changed"] and git("rev-list", "--count", "main", cwd=remote) == "2"
    diff = git("diff", "--name-only", committed["commit"], second["commit"], cwd=remote)
    teams = next(
        c["path"] for c in json.loads(changed.stdout)["components"] if c["name"] == "teams"
    )
    assert set(diff.splitlines()) == {
        "shared/prod/kfstack.yaml",
        "shared/prod/kfstack.lock",  # the teams component's digest and object count
        "shared/prod/platform/index.yaml",
        f"shared/prod/platform/{teams}/manifests.yaml",
        f"shared/prod/platform/{teams}/teams.yaml",
    }

    store = SecretStore(cli_site / ".kfstack" / "shared-prod" / "secrets")
    values = [*store.known_values(), oidc]
    assert len(values) > 2
    needles = [v.encode() for v in values] + [base64.b64encode(v.encode()) for v in values]
    blobs = git("rev-list", "--all", "--objects", cwd=remote).splitlines()
    assert len(blobs) > 50
    for line in blobs:
        sha = line.split()[0]
        content = subprocess.run(
            ["git", "cat-file", "-p", sha], cwd=remote, capture_output=True, check=True
        ).stdout
        assert not any(needle in content for needle in needles), line


def test_render_commit_without_gitops_enabled_exits_2_naming_the_field(tmp_path):
    spec_path = write_spec(tmp_path, enabled=False)
    result = CliRunner().invoke(
        cli, ["render", "-c", str(spec_path), "--out", str(tmp_path / "out"), "--commit"]
    )
    assert result.exit_code == 2
    assert "gitops.enabled is false" in result.output


def test_apply_from_git_with_only_infra_exits_2_before_touching_anything(site):
    spec_path = write_spec(site)
    args = ["apply", "-c", str(spec_path), "--yes", "--from-git", "main", "--only", "infra"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "--from-git applies the platform layer only" in result.output
    assert not (site / ".kfstack" / "demo-dev").exists()


def test_apply_from_git_applies_the_tree_as_committed_on_the_simulated_cluster(
    site, kubeflow_release
):
    if shutil.which("kubectl") is None:
        pytest.skip("needs kubectl to build a tree")
    from platform_trees import build_tree

    from installer.simcluster import SimCluster

    release_dir, remote_dir = kubeflow_release("26.03")
    build_tree(
        release_dir,
        remote_dir,
        site / "render" / "platform",
        work=site / "work",
        platform="demo-dev",
        components=["namespaces", "cert-manager"],
    )
    spec_path = write_spec(site, push=True)
    committed = publish(spec_path, site / "render")
    shutil.rmtree(site / "render")  # the commit alone must be enough
    workdir = site / "wd"
    with SimCluster(clock_scale=0.01) as sim:
        sim.kubeconfig(site / "kubeconfig")
        args = ["apply", "-c", str(spec_path), "--workdir", str(workdir), "--yes"]

        missing = CliRunner().invoke(cli, [*args, "--from-git", "no-such-ref"])
        applied = CliRunner().invoke(cli, [*args, "--from-git", "main", "-o", "json"])

        assert missing.exit_code == 2 and "no-such-ref" in missing.output
        assert applied.exit_code == 0, applied.output
        result = json.loads(applied.stdout)
        assert result["commit"] == committed.commit
        assert result["platform"]["ok"] is True
        with sim.state.lock:
            names = {
                key
                for key, stored in sim.state.objects.items()
                if (stored.meta.get("labels") or {}).get("kfstack.dev/component") == "cert-manager"
            }
        assert len(names) > 10
    assert not (workdir / "platform").exists()
