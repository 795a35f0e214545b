"""The existing-cluster target: no infrastructure, and a kubeconfig copied from the user's."""

from __future__ import annotations

import base64
import os
import stat

import pytest
import yaml

import stacks
from installer.errors import UserError
from installer.spec import parse_spec
from stacks.base import InfraOutputs

USER_KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "dev",
    "clusters": [
        {
            "name": "prod",
            "cluster": {"server": "https://prod:6443", "certificate-authority": "ca.crt"},
        },
        {"name": "dev", "cluster": {"server": "https://dev:6443"}},
    ],
    "users": [
        {
            "name": "prod-admin",
            "user": {"client-certificate": "certs/admin.crt", "client-key": "certs/admin.key"},
        },
        {"name": "dev-user", "user": {"token": "dev-token-not-for-prod"}},
    ],
    "contexts": [
        {"name": "prod", "context": {"cluster": "prod", "user": "prod-admin"}},
        {"name": "dev", "context": {"cluster": "dev", "user": "dev-user", "namespace": "x"}},
    ],
}


@pytest.fixture
def user_kubeconfig(tmp_path):
    """A user's kubeconfig with two contexts, one using certificate files beside it."""
    home = tmp_path / "user"
    (home / "certs").mkdir(parents=True)
    (home / "ca.crt").write_bytes(b"CA PEM")
    (home / "certs" / "admin.crt").write_bytes(b"CLIENT CERT PEM")
    (home / "certs" / "admin.key").write_bytes(b"CLIENT KEY PEM secret")
    path = home / "config"
    path.write_text(yaml.safe_dump(USER_KUBECONFIG))
    return path


def _stack(kubeconfig, context: str | None):
    existing = {"kubeconfig": str(kubeconfig)}
    if context:
        existing["context"] = context
    text = yaml.safe_dump({"name": "shared", "target": "existing", "existing": existing})
    return stacks.for_spec(parse_spec(text).spec)


def test_an_existing_cluster_has_an_empty_configuration_and_final_outputs(user_kubeconfig):
    stack = _stack(user_kubeconfig, "prod")
    assert stack.documents() == {}
    assert stack.module_names() == []
    outputs = stack.pending_outputs()
    assert outputs.target == "existing"
    assert outputs.infrastructure.startswith("none")
    assert outputs.gpu_pools == []


def test_only_the_chosen_context_is_copied_with_its_files_inlined(user_kubeconfig, tmp_path):
    before = user_kubeconfig.read_bytes()
    mtime = os.stat(user_kubeconfig).st_mtime_ns

    path = _stack(user_kubeconfig, "prod").write_kubeconfig(
        InfraOutputs(target="existing"), tmp_path / "work" / "kubeconfig"
    )

    config = yaml.safe_load(path.read_text())
    assert config["current-context"] == "prod"
    assert [c["name"] for c in config["contexts"]] == ["prod"]
    assert [c["name"] for c in config["clusters"]] == ["prod"]
    assert [u["name"] for u in config["users"]] == ["prod-admin"]
    cluster = config["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"CA PEM"
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-key-data"]) == b"CLIENT KEY PEM secret"
    assert "client-key" not in user
    assert "dev-token-not-for-prod" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert user_kubeconfig.read_bytes() == before
    assert os.stat(user_kubeconfig).st_mtime_ns == mtime


def test_without_a_context_the_files_current_context_is_used(user_kubeconfig, tmp_path):
    path = _stack(user_kubeconfig, None).write_kubeconfig(
        InfraOutputs(target="existing"), tmp_path / "kubeconfig"
    )
    config = yaml.safe_load(path.read_text())
    assert config["current-context"] == "dev"
    assert config["contexts"][0]["context"]["namespace"] == "x"


def test_an_unknown_context_lists_the_ones_that_exist(user_kubeconfig, tmp_path):
    with pytest.raises(UserError) as caught:
        _stack(user_kubeconfig, "staging").write_kubeconfig(
            InfraOutputs(target="existing"), tmp_path / "kubeconfig"
        )
    assert caught.value.exit_code == 2
    assert "prod, dev" in caught.value.hint
    assert not (tmp_path / "kubeconfig").exists()


def test_a_missing_kubeconfig_names_the_spec_field(tmp_path):
    with pytest.raises(UserError) as caught:
        _stack(tmp_path / "nope", "prod").write_kubeconfig(
            InfraOutputs(target="existing"), tmp_path / "kubeconfig"
        )
    assert "existing.kubeconfig" in caught.value.hint


def test_an_unreadable_certificate_file_is_named(user_kubeconfig, tmp_path):
    (user_kubeconfig.parent / "certs" / "admin.key").unlink()
    with pytest.raises(UserError, match="admin.key"):
        _stack(user_kubeconfig, "prod").write_kubeconfig(
            InfraOutputs(target="existing"), tmp_path / "kubeconfig"
        )
    assert not (tmp_path / "kubeconfig").exists()
