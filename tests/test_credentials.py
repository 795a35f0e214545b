"""GKE and AKS credentials are looked for offline before terraform runs, and `kfstack
doctor` reports what the same detection saw."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from installer import credentials
from installer.cli import cli
from installer.errors import CredentialsError
from installer.spec import load_spec

CLOUD_VARS = (
    "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CREDENTIALS", "GOOGLE_CLOUD_KEYFILE_JSON",
    "GCLOUD_KEYFILE_JSON", "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_CONFIG", "GCE_METADATA_HOST",
    "AZURE_CONFIG_DIR", "ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_CLIENT_SECRET_FILE_PATH",
    "ARM_CLIENT_CERTIFICATE_PATH", "ARM_TENANT_ID", "ARM_USE_MSI", "ARM_USE_OIDC",
    "ARM_USE_AKS_WORKLOAD_IDENTITY", "ARM_OIDC_TOKEN", "ARM_OIDC_TOKEN_FILE_PATH",
    "ARM_OIDC_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "AZURE_FEDERATED_TOKEN_FILE",
)  # fmt: skip

needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform")


@pytest.fixture(autouse=True)
def nothing_visible(tmp_path, monkeypatch):
    """An empty home, no cloud variables, and not a GCE VM: only what a test sets counts."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in CLOUD_VARS:
        monkeypatch.delenv(var, raising=False)
    product = tmp_path / "product_name"
    product.write_text("Standard PC (Q35 + ICH9, 2009)\n")
    monkeypatch.setattr(credentials, "GCE_PRODUCT_NAME_FILE", product)
    return home


def _plan(tmp_path: Path, examples: Path, target: str):
    spec = tmp_path / "kfstack.yaml"
    shutil.copy(examples / f"{target}.yaml", spec)
    return CliRunner().invoke(
        cli, ["plan", "-c", str(spec), "--workdir", str(tmp_path / "w")], catch_exceptions=False
    )


@needs_terraform
@pytest.mark.parametrize(
    ("target", "fix"),
    [("gcp", "gcloud auth application-default login"), ("azure", "az login")],
)
def test_missing_credentials_stop_plan_before_terraform_with_exit_2_and_the_fix(
    tmp_path, examples, target, fix
):
    result = _plan(tmp_path, examples, target)
    assert result.exit_code == 2, result.output
    found = getattr(credentials, f"detect_{target}")()
    assert f"Error: no {target} credentials found (looked for {found.looked_for})" in result.stderr
    assert fix in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w" / "terraform").exists()  # terraform never ran


@pytest.mark.parametrize(
    ("target", "fix"),
    [("gcp", "gcloud auth application-default login"), ("azure", "az login")],
)
def test_doctor_reports_the_same_missing_credentials_and_fix(tmp_path, examples, target, fix):
    spec = tmp_path / "kfstack.yaml"
    shutil.copy(examples / f"{target}.yaml", spec)
    result = CliRunner().invoke(cli, ["doctor", "-c", str(spec), "-o", "json"])
    (check,) = [c for c in json.loads(result.stdout)["checks"] if c["name"].endswith(target)]
    found = getattr(credentials, f"detect_{target}")()
    assert check["status"] == "missing"
    assert found.looked_for in check["detail"] and fix in check["fix"]


def test_each_google_source_the_provider_reads_is_recognised(tmp_path, monkeypatch, examples):
    stack = _stack(examples, "gcp")
    with pytest.raises(CredentialsError):
        stack.check_access()
    key = tmp_path / "key.json"
    key.write_text("{}")
    for var, value in (
        ("GOOGLE_APPLICATION_CREDENTIALS", str(key)),
        ("GOOGLE_CREDENTIALS", "{}"),
        ("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.token"),
        ("GCE_METADATA_HOST", "169.254.169.254"),
    ):
        with monkeypatch.context() as env:
            env.setenv(var, value)
            stack.check_access()
    adc = Path.home() / ".config" / "gcloud" / "application_default_credentials.json"
    adc.parent.mkdir(parents=True)
    adc.write_text("{}")
    stack.check_access()
    adc.unlink()
    credentials.GCE_PRODUCT_NAME_FILE.write_text("Google Compute Engine\n")
    assert "metadata server" in credentials.detect_gcp().sources[0]
    stack.check_access()


def test_a_google_credentials_file_that_does_not_exist_is_named(monkeypatch, examples):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nowhere/key.json")
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.token")
    with pytest.raises(CredentialsError, match="names /nowhere/key.json, which does not exist"):
        _stack(examples, "gcp").check_access()


def test_azure_needs_a_whole_principal_oidc_msi_or_a_cli_login(monkeypatch, examples):
    stack = _stack(examples, "azure")
    monkeypatch.setenv("ARM_CLIENT_ID", "id")
    monkeypatch.setenv("ARM_TENANT_ID", "tenant")
    with pytest.raises(CredentialsError, match="no azure credentials found") as caught:
        stack.check_access()  # an id without a secret signs nobody in
    assert "az login" in (caught.value.hint or "")
    with monkeypatch.context() as env:
        env.setenv("ARM_CLIENT_SECRET", "s")
        stack.check_access()
    with monkeypatch.context() as env:
        env.setenv("ARM_USE_OIDC", "true")
        with pytest.raises(CredentialsError):
            stack.check_access()  # OIDC without any token source
        env.setenv("ARM_OIDC_TOKEN_FILE_PATH", "/var/run/token")
        stack.check_access()
    monkeypatch.delenv("ARM_CLIENT_ID")
    monkeypatch.delenv("ARM_TENANT_ID")
    with monkeypatch.context() as env:
        env.setenv("ARM_USE_MSI", "true")
        stack.check_access()
    config = Path.home() / ".azure"
    config.mkdir()
    (config / "azureProfile.json").write_text('{"subscriptions": []}')
    with pytest.raises(CredentialsError):
        stack.check_access()  # `az` has run here, but nobody is logged in
    # az writes the profile with a byte-order mark.
    (config / "azureProfile.json").write_text('\ufeff{"subscriptions": [{"id": "s"}]}')
    stack.check_access()


def _stack(examples: Path, target: str):
    import stacks

    return stacks.for_spec(load_spec(examples / f"{target}.yaml").spec)
