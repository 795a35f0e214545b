"""Every relative local path in kfstack.yaml is read from the spec's own folder, whatever
the current directory: `kubeflow.manifests`, `existing.kubeconfig`, `file:` secret
references, bare-metal air-gap files and an `engine.binary` path. The spec and what is
rendered from it keep the paths as written, so two checkouts render the same bytes; a
path that names nothing is an exit-2 error showing the field, the value as written and
where it led."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import find_shared
from platform_support import all_files

import stacks
from installer.cli import cli
from installer.errors import UserError
from installer.platform import tree as _tree
from installer.secrets import SecretStore
from installer.spec import load_spec, parse_spec
from installer.spec.model import COMPONENTS
from installer.terraform import Terraform

SHARED = find_shared()

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "prod",
    "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example:6443"}}],
    "users": [{"name": "admin", "user": {"token": "prod-token"}}],
    "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "admin"}}],
}


def write_site(root: Path, data: dict) -> Path:
    """`root/envs/prod/kfstack.yaml` with `data`; returns the spec's path."""
    spec_dir = root / "envs" / "prod"
    spec_dir.mkdir(parents=True)
    spec_path = spec_dir / "kfstack.yaml"
    spec_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec_path


def existing_spec(**kubeflow) -> dict:
    return {
        "name": "shared",
        "environment": "prod",
        "target": "existing",
        "existing": {"kubeconfig": "kube/config"},
        "kubeflow": {"version": "26.03", **kubeflow},
    }


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A current directory that is not the spec's."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


# ---------------------------------------------------------------------------- the spec


def test_load_spec_keeps_paths_as_written_and_records_the_spec_folder(tmp_path, elsewhere):
    spec_path = write_site(
        tmp_path / "site",
        {
            "name": "lab",
            "target": "baremetal",
            "baremetal": {
                "hosts": [
                    {"name": "s", "address": "10.0.0.1", "ssh_key": "keys/s", "role": "server"}
                ],
                "host_key_checking": "accept-new",
            },
            "gitops": {"credential": {"file": "../../token"}},
        },
    )

    spec = load_spec(os.path.relpath(spec_path)).spec

    assert spec.base_dir == spec_path.parent.resolve()
    assert spec.baremetal.hosts[0].ssh_key == "keys/s"
    assert spec.local_path("keys/s") == spec_path.parent.resolve() / "keys" / "s"
    assert spec.local_path("../../token") == spec_path.parent.resolve() / "../../token"
    assert spec.local_path("/abs/k") == Path("/abs/k")
    assert spec.local_path("~/k") == Path.home() / "k"


def test_a_spec_from_text_reads_relative_paths_from_the_current_directory(elsewhere):
    spec = parse_spec("name: x\ntarget: existing\nexisting: {kubeconfig: kube/config}\n").spec
    assert spec.base_dir is None
    assert spec.local_path("kube/config") == elsewhere / "kube" / "config"


# ---------------------------------------------------------------------------- existing.kubeconfig


def test_kubeconfig_command_reads_existing_kubeconfig_beside_the_spec(tmp_path, monkeypatch):
    site = tmp_path / "site"
    spec_path = write_site(site, existing_spec())
    (spec_path.parent / "kube").mkdir()
    (spec_path.parent / "kube" / "config").write_text(yaml.safe_dump(KUBECONFIG))
    monkeypatch.chdir(site)  # as `kfstack kubeconfig -c envs/prod/kfstack.yaml` from the root

    result = CliRunner().invoke(cli, ["kubeconfig", "-c", "envs/prod/kfstack.yaml", "-o", "json"])

    assert result.exit_code == 0, result.output
    written = Path(json.loads(result.stdout)["kubeconfig"])
    assert yaml.safe_load(written.read_text())["users"][0]["user"]["token"] == "prod-token"


def test_a_missing_existing_kubeconfig_names_the_field_and_both_paths(tmp_path, monkeypatch):
    site = tmp_path / "site"
    spec_path = write_site(site, existing_spec())
    spec_dir = spec_path.parent.resolve()
    monkeypatch.chdir(site)

    result = CliRunner().invoke(cli, ["kubeconfig", "-c", "envs/prod/kfstack.yaml"])

    assert result.exit_code == 2
    assert (
        f"Error: existing.kubeconfig: kube/config not found (resolved against {spec_dir}/ "
        f"to {spec_dir}/kube/config)\n"
    ) in result.stderr
    assert "Traceback" not in result.output


def test_verify_and_doctor_read_existing_kubeconfig_beside_the_spec(tmp_path, elsewhere):
    from installer import doctor
    from installer.commands.verify import kubeconfig_for
    from installer.workdir import Workdir

    spec_path = write_site(tmp_path / "site", existing_spec())
    spec = load_spec(spec_path).spec
    wd = Workdir(tmp_path / "wd")
    with pytest.raises(UserError, match=r"existing.kubeconfig: kube/config not found \(resolved"):
        kubeconfig_for(spec, wd, None)
    (check,) = [c for c in doctor.checks(spec) if c.name == "kubeconfig"]
    assert not check.ok and check.detail.startswith("existing.kubeconfig: kube/config not found")

    (spec_path.parent / "kube").mkdir()
    (spec_path.parent / "kube" / "config").write_text(yaml.safe_dump(KUBECONFIG))
    assert kubeconfig_for(spec, wd, None) == spec_path.parent.resolve() / "kube" / "config"
    (check,) = [c for c in doctor.checks(spec) if c.name == "kubeconfig"]
    assert check.ok


# ---------------------------------------------------------------------------- secrets


def test_a_relative_secret_file_is_read_beside_the_spec_and_a_missing_one_names_the_field(
    tmp_path, elsewhere
):
    data = {
        "name": "x",
        "target": "existing",
        "existing": {},
        "gitops": {
            "enabled": True,
            "repository": "https://git.example/platform.git",
            "credential": {"file": "keys/git-token"},
        },
    }
    spec_path = write_site(tmp_path / "site", data)
    spec_dir = spec_path.parent.resolve()
    spec = load_spec(spec_path).spec
    store = SecretStore(tmp_path / "secrets", spec=spec)
    ref = spec.gitops.credential

    with pytest.raises(UserError) as err:
        store.resolve(ref, field="gitops.credential")
    assert err.value.exit_code == 2
    assert err.value.message == (
        f"gitops.credential: secret file keys/git-token not found (resolved against "
        f"{spec_dir}/ to {spec_dir}/keys/git-token)"
    )

    (spec_dir / "keys").mkdir()
    (spec_dir / "keys" / "git-token").write_text("tok-123456\n")
    assert store.resolve(ref, field="gitops.credential") == "tok-123456"
    assert store.peek(ref) == "tok-123456"


def test_a_tree_secret_read_at_apply_time_is_named_by_its_spec_field(tmp_path, elsewhere):
    data = existing_spec(
        auth={
            "connectors": [
                {"type": "github", "client_id": "gh", "client_secret": {"file": "keys/gh"}}
            ]
        }
    )
    spec_path = write_site(tmp_path / "site", data)
    spec_dir = spec_path.parent.resolve()
    store = SecretStore(tmp_path / "secrets", spec=load_spec(spec_path).spec)
    entry = {"name": "dex-gh", "namespace": "auth", "data": {"GH": {"file": "keys/gh"}}}

    with pytest.raises(UserError) as err:
        _tree.build_secret(entry, store, "dex")
    assert err.value.message == (
        "kubeflow.auth.connectors[0].client_secret (component dex, Secret auth/dex-gh, key GH): "
        f"secret file keys/gh not found (resolved against {spec_dir}/ to {spec_dir}/keys/gh)"
    )


# ---------------------------------------------------------------------------- bare metal, engine


def test_a_missing_air_gap_file_names_the_field_and_both_paths(tmp_path, elsewhere):
    data = {
        "name": "lab",
        "target": "baremetal",
        "baremetal": {
            "hosts": [{"name": "s", "address": "10.0.0.1", "ssh_key": "k", "role": "server"}],
            "host_key_checking": "accept-new",
            "airgap": {"binary": "offline/k3s", "images": "offline/i.tar", "install_script": "i"},
        },
    }
    spec_path = write_site(tmp_path / "site", data)
    spec_dir = spec_path.parent.resolve()
    for name in ("offline/k3s", "i"):
        (spec_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (spec_dir / name).write_text("x")
    stack = stacks.for_spec(load_spec(spec_path).spec)

    with pytest.raises(UserError) as err:
        stack.check_access()
    assert err.value.message == (
        f"baremetal.airgap.images: offline/i.tar not found (resolved against {spec_dir}/ "
        f"to {spec_dir}/offline/i.tar)"
    )
    (spec_dir / "offline" / "i.tar").write_text("x")
    stack.check_access()


@pytest.mark.skipif(shutil.which("terraform") is None, reason="needs terraform")
def test_an_engine_binary_path_is_read_beside_the_spec(tmp_path, elsewhere):
    data = {"name": "x", "target": "existing", "existing": {}, "engine": {"binary": "bin/tf"}}
    spec_path = write_site(tmp_path / "site", data)
    spec_dir = spec_path.parent.resolve()
    spec = load_spec(spec_path).spec

    with pytest.raises(UserError) as err:
        Terraform.for_spec(spec, tmp_path / "root")
    assert err.value.message == (
        f"engine.binary: bin/tf not found (resolved against {spec_dir}/ to {spec_dir}/bin/tf)"
    )
    (spec_dir / "bin").mkdir()
    (spec_dir / "bin" / "tf").symlink_to(shutil.which("terraform"))
    assert Terraform.for_spec(spec, tmp_path / "root").binary == str(spec_dir / "bin" / "tf")


# ---------------------------------------------------------------------------- render


@pytest.fixture
def render_env(monkeypatch, platform_cache, kubeflow_release, hermetic_git):
    """The session cache, the add-ons, and the 26.03 release to point kubeflow.manifests at."""
    if shutil.which("git") is None:
        pytest.skip("needs the git binary")
    monkeypatch.setenv("KFSTACK_CACHE_DIR", str(platform_cache))
    if SHARED is not None:
        monkeypatch.setenv("KFSTACK_ADDONS_DIR", str(SHARED / "addon-manifests"))
    release, _ = kubeflow_release("26.03")  # skips when neither copy nor download exists
    return release


# The platform core only (dex, istio, cert-manager, the dashboard ...): enough for the
# connector's secrets.yaml and the lock's sources, a fraction of a full render.
NO_COMPONENTS = dict.fromkeys(COMPONENTS, False)


def make_checkout(root: Path, release: Path) -> Path:
    """A checkout whose spec names every local path relative to its own folder."""
    data = existing_spec(
        manifests="./kf",
        components=NO_COMPONENTS,
        domain="kf.example.com",
        auth={
            "connectors": [
                {"type": "github", "client_id": "gh", "client_secret": {"file": "keys/gh"}}
            ]
        },
    )
    data["gitops"] = {"enabled": True, "repository": "./remote.git", "push": True}
    spec_path = write_site(root, data)
    spec_dir = spec_path.parent
    (spec_dir / "kf").symlink_to(release, target_is_directory=True)
    (spec_dir / "keys").mkdir()
    (spec_dir / "keys" / "gh").write_text("gh-client-secret-value\n")
    (spec_dir / "kube").mkdir()
    (spec_dir / "kube" / "config").write_text(yaml.safe_dump(KUBECONFIG))
    subprocess.run(
        ["git", "init", "-q", "--bare", "--initial-branch=main", "remote.git"],
        cwd=spec_dir,
        check=True,
    )
    return spec_path


def test_two_checkouts_rendered_from_other_directories_give_the_same_tree_and_commit(
    tmp_path, monkeypatch, render_env
):
    trees, commits = [], []
    for root, cwd in ((tmp_path / "a", tmp_path / "a"), (tmp_path / "b" / "deep", tmp_path)):
        spec_path = make_checkout(root, render_env)
        monkeypatch.chdir(cwd)
        out = tmp_path / f"out-{len(trees)}"
        args = ["render", "-c", os.path.relpath(spec_path), "--out", str(out), "--commit"]

        result = CliRunner().invoke(cli, [*args, "-o", "json"])

        assert result.exit_code == 0, result.output
        assert "keys/gh" not in result.stderr  # the secret file was found (no warning)
        trees.append({str(p.relative_to(out)): p.read_bytes() for p in all_files(out)})
        remote = spec_path.parent / "remote.git"
        commits.append(
            subprocess.run(
                ["git", "rev-parse", "main^{tree}"],
                cwd=remote,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        tree = _tree.PlatformTree.open(out / "platform")
        store = SecretStore(tmp_path / f"secrets-{len(trees)}", spec=load_spec(spec_path).spec)
        dex = [c.name for c in tree.components if "dex" in c.name]
        secrets = [
            o for name in dex for o in tree.objects(name, store=store) if o["kind"] == "Secret"
        ]
        assert any(
            "Z2gtY2xpZW50LXNlY3JldC12YWx1ZQ==" in (o.get("data") or {}).values() for o in secrets
        ), "the connector's secret file was not read at apply time"

    assert trees[0] == trees[1] and len(trees[0]) > 10
    assert commits[0] == commits[1]
    secrets_yaml = b"".join(v for k, v in trees[0].items() if k.endswith("secrets.yaml"))
    assert b"file: keys/gh" in secrets_yaml  # as written, relative to the spec
    everything = b"".join(trees[0].values())
    for location in (str(tmp_path).encode(), b"/envs/prod"):
        assert location not in everything


def test_a_missing_manifests_directory_names_the_field_and_both_paths(tmp_path, monkeypatch):
    site = tmp_path / "site"
    spec_path = write_site(site, existing_spec(manifests="./kf"))
    spec_dir = spec_path.parent.resolve()
    monkeypatch.chdir(site)

    result = CliRunner().invoke(
        cli, ["render", "-c", "envs/prod/kfstack.yaml", "--out", str(tmp_path / "out")]
    )

    assert result.exit_code == 2
    assert (
        f"Error: kubeflow.manifests: ./kf not found (resolved against {spec_dir}/ to "
        f"{spec_dir}/kf)\n"
    ) in result.stderr
    assert "Traceback" not in result.output
