"""`kfstack doctor` reports missing tools and credentials for the spec's target, offline.

The machine's real binaries are used; a tool is "uninstalled" by running doctor with a
PATH that holds symlinks to every binary except the hidden ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from installer import tools
from installer.cli import cli

ALL_TOOLS = ("terraform", "tofu", "kubectl", "kustomize", "git", "ssh", "ssh-keyscan")


@pytest.fixture
def path_without(tmp_path, monkeypatch):
    """Call with the tools to hide; PATH then holds only the others (as symlinks)."""

    def make(*hidden: str) -> Path:
        bindir = tmp_path / "bin"
        bindir.mkdir(exist_ok=True)
        for name in ALL_TOOLS:
            real = shutil.which(name)
            if real and name not in hidden:
                (bindir / name).symlink_to(real)
        monkeypatch.setenv("PATH", str(bindir))
        return bindir

    return make


@pytest.fixture(autouse=True)
def _no_credentials(tmp_path, monkeypatch):
    # An empty home and no cloud variables: only what a test sets is visible.
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL",
        "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
        "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN",
        "CLOUDSDK_CONFIG", "AZURE_CONFIG_DIR", "ARM_CLIENT_ID", "ARM_CLIENT_SECRET",
        "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID", "ARM_USE_MSI", "ARM_USE_OIDC",
        "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID",
    ):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    tools.read_version.cache_clear()
    yield
    tools.read_version.cache_clear()


def doctor(*args: str):
    return CliRunner().invoke(cli, ["doctor", *args])


def spec_file(tmp_path: Path, examples: Path, name: str, extra: str = "") -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text((examples / f"{name}.yaml").read_text() + extra)
    return str(path)


needs_real_tools = pytest.mark.skipif(
    not (shutil.which("terraform") and shutil.which("kubectl")),
    reason="terraform and kubectl are needed to show a ready machine",
)


@needs_real_tools
def test_a_machine_with_the_tools_and_aws_credentials_is_ready_for_aws(
    tmp_path, examples, path_without, monkeypatch
):
    path_without()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "doctor-must-never-print-this")
    result = doctor("-c", spec_file(tmp_path, examples, "aws"))
    assert result.exit_code == 0, result.output
    assert "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" in result.output
    assert "doctor-must-never-print-this" not in result.output
    assert "ready for target aws" in result.output


@needs_real_tools
def test_hiding_terraform_makes_doctor_fail_with_an_install_hint(
    tmp_path, examples, path_without, monkeypatch
):
    path_without("terraform", "tofu")
    monkeypatch.setenv("AWS_PROFILE", "dev")
    result = doctor("-c", spec_file(tmp_path, examples, "aws"))
    assert result.exit_code == 1
    assert "engine (terraform)" in result.output
    assert "install Terraform >= 1.6" in result.output


@needs_real_tools
def test_hiding_kubectl_and_kustomize_makes_doctor_fail_without_a_spec(path_without):
    path_without("kubectl", "kustomize")
    result = doctor("-o", "json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["kubectl"]["status"] == "missing"
    assert checks["kustomize"]["status"] == "missing"
    assert checks["engine (terraform or tofu)"]["status"] == "ok"


@needs_real_tools
def test_an_engine_older_than_the_spec_constraint_is_reported_with_both_versions(
    tmp_path, examples, path_without, monkeypatch
):
    path_without()
    monkeypatch.setenv("AWS_PROFILE", "dev")
    config = spec_file(tmp_path, examples, "aws", 'engine: {version: ">= 99.0"}\n')
    result = doctor("-c", config, "-o", "json")
    assert result.exit_code == 1
    engine = json.loads(result.stdout)["checks"][0]
    have = tools.find("terraform").version
    assert engine["detail"] == f"terraform {have}, needs >= 99.0"


@needs_real_tools
def test_missing_credentials_fail_only_for_the_target_cloud(tmp_path, examples, path_without):
    path_without()
    gcp = doctor("-c", spec_file(tmp_path, examples, "gcp"), "-o", "json")
    assert gcp.exit_code == 1
    statuses = {c["name"]: c["status"] for c in json.loads(gcp.stdout)["checks"]}
    assert statuses["credentials: gcp"] == "missing"
    assert statuses["credentials: aws"] == "absent"
    adc = Path.home() / ".config" / "gcloud" / "application_default_credentials.json"
    adc.parent.mkdir(parents=True)
    adc.write_text("{}")
    assert doctor("-c", spec_file(tmp_path, examples, "gcp")).exit_code == 0


@needs_real_tools
def test_azure_login_cache_and_aws_endpoint_are_recognised(tmp_path, path_without, monkeypatch):
    path_without()
    (Path.home() / ".azure").mkdir()
    # What `az login` leaves: a profile listing at least one subscription.
    (Path.home() / ".azure" / "azureProfile.json").write_text('{"subscriptions": [{"id": "s"}]}')
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    checks = {c["name"]: c for c in json.loads(doctor("-o", "json").stdout)["checks"]}
    assert checks["credentials: azure"]["ok"] is True
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:4566" in checks["credentials: aws"]["detail"]


@needs_real_tools
def test_bare_metal_needs_an_ssh_client(tmp_path, examples, path_without):
    path_without("ssh")
    result = doctor("-c", spec_file(tmp_path, examples, "baremetal"))
    assert result.exit_code == 1
    assert "⨯ ssh" in result.output
    assert "openssh-client" in result.output


@needs_real_tools
@pytest.mark.parametrize(("mode", "code", "mark"), [("strict", 1, "⨯"), ("accept-new", 0, "-")])
def test_bare_metal_hosts_without_a_host_key_are_listed_with_the_command_that_pins_them(
    tmp_path, examples, path_without, mode, code, mark
):
    path_without()
    text = (examples / "baremetal.yaml").read_text()
    unpinned = "\n".join(line for line in text.splitlines() if "host_key:" not in line)
    unpinned = unpinned.replace("  distribution: k3s", f"  host_key_checking: {mode}")
    spec = tmp_path / "kfstack.yaml"
    spec.write_text(unpinned + "\n")

    result = doctor("-c", str(spec))

    assert result.exit_code == code, result.output
    (line,) = [
        line for line in result.output.splitlines() if line.startswith(f"{mark}  host keys")
    ]
    assert "not pinned: ctrl, cpu1, gpu1" in line
    assert "kfstack hostkeys --write -c <spec>" in line


def test_an_invalid_spec_is_a_usage_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ntarget: mars\n")
    result = doctor("-c", str(path))
    assert result.exit_code == 2
    assert "target" in result.output


def test_an_old_engine_is_reported_and_its_version_is_read_offline(tmp_path, path_without):
    # A stand-in for an old Terraform: it answers `version -json` like 1.5.7 does and
    # records whether the update check (a network call) was disabled for it.
    bindir = path_without("terraform", "tofu")
    seen = tmp_path / "checkpoint"
    fake = bindir / "terraform"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$CHECKPOINT_DISABLE" > {seen}\n'
        'echo \'{"terraform_version": "1.5.7", "platform": "linux_amd64"}\'\n'
    )
    fake.chmod(0o755)
    result = doctor("-o", "json")
    assert result.exit_code == 1
    engine = json.loads(result.stdout)["checks"][0]
    assert (engine["status"], engine["version"]) == ("outdated", "1.5.7")
    assert engine["detail"] == "terraform 1.5.7, needs >= 1.6"
    assert seen.read_text().strip() == "1"


def test_a_spec_asking_for_tofu_on_a_terraform_machine_suggests_switching(
    tmp_path, examples, path_without, monkeypatch
):
    path_without("tofu")
    monkeypatch.setenv("AWS_PROFILE", "dev")
    if shutil.which("terraform") is None:
        pytest.skip("needs terraform on PATH")
    config = spec_file(tmp_path, examples, "aws", "engine: {binary: tofu}\n")
    result = doctor("-c", config, "-o", "json")
    assert result.exit_code == 1
    engine = json.loads(result.stdout)["checks"][0]
    assert engine["name"] == "engine (tofu)"
    assert engine["fix"].startswith("terraform is installed: set engine.binary: terraform")
