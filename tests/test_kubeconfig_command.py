"""`kfstack kubeconfig` through the CLI: exact exit codes and messages."""

from __future__ import annotations

import json
import stat
import sys

import yaml
from click.testing import CliRunner

from installer import infra
from installer.cli import cli
from stacks.base import InfraOutputs


def _spec(tmp_path, data: dict):
    path = tmp_path / "kfstack.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_an_existing_clusters_context_is_written_to_the_work_directory(tmp_path):
    user = tmp_path / "user-kubeconfig"
    user.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://c:6443"}}],
                "users": [{"name": "u", "user": {"token": "t0k3n-value"}}],
                "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    spec = _spec(
        tmp_path,
        {
            "name": "shared",
            "target": "existing",
            "existing": {"kubeconfig": str(user), "context": "prod"},
        },
    )
    work = tmp_path / "work"

    result = CliRunner().invoke(
        cli, ["kubeconfig", "-c", str(spec), "--workdir", str(work), "-o", "json"]
    )

    assert result.exit_code == 0, result.output
    written = work / "kubeconfig"
    assert json.loads(result.stdout) == {"kubeconfig": str(written)}
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert yaml.safe_load(written.read_text())["current-context"] == "prod"
    assert "t0k3n-value" not in result.output


def test_admin_credentials_are_refused_outside_aks(tmp_path):
    spec = _spec(
        tmp_path,
        {"name": "shared", "target": "existing", "existing": {"kubeconfig": "/nonexistent"}},
    )
    result = CliRunner().invoke(cli, ["kubeconfig", "-c", str(spec), "--admin"])
    assert result.exit_code == 2
    assert "--admin applies to AKS clusters only, not to existing" in result.output


def test_a_gke_kubeconfig_without_the_gcp_extra_exits_2_naming_it(tmp_path, examples, monkeypatch):
    monkeypatch.setattr(
        infra,
        "outputs",
        lambda spec, wd, reporter: InfraOutputs(target="gcp", cluster_name="ml-platform-staging"),
    )
    monkeypatch.setitem(sys.modules, "google.cloud.container_v1", None)
    spec = tmp_path / "kfstack.yaml"
    spec.write_text((examples / "gcp.yaml").read_text())

    result = CliRunner().invoke(cli, ["kubeconfig", "-c", str(spec)])

    assert result.exit_code == 2
    assert "pip install 'kfstack[gcp]'" in result.output
    assert "Traceback" not in result.output


def test_before_any_apply_the_command_says_to_apply_first(tmp_path, examples):
    spec = tmp_path / "kfstack.yaml"
    spec.write_text((examples / "azure.yaml").read_text())

    result = CliRunner().invoke(
        cli, ["kubeconfig", "-c", str(spec), "--workdir", str(tmp_path / "w")]
    )

    assert result.exit_code == 1
    assert "kfstack apply" in result.output
