"""AKS kubeconfig retrieval against recorded Azure Resource Manager responses.

The real `azure-mgmt-containerservice` client and azure-core pipeline (bearer-token
policy, retries, error mapping, `RequestsTransport`) run unchanged; only the `requests`
adapter underneath is replaced by one that answers the documented
`managedClusters/{name}/listCluster{User,Admin}Credential` POSTs from tests/fixtures/aks
(written from the ARM REST reference), and records what was asked.
"""

from __future__ import annotations

import base64
import io
import json
import stat
import sys
from pathlib import Path

import pytest
import requests
import urllib3
import yaml
from requests.adapters import BaseAdapter, HTTPAdapter

from installer import redact
from installer.errors import CredentialsError, KfstackError, UserError
from installer.spec import load_spec
from stacks import azure
from stacks.base import InfraOutputs

FIXTURES = Path(__file__).parent / "fixtures" / "aks"
CLUSTER = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/ml-platform-prod"
    "/providers/Microsoft.ContainerService/managedClusters/ml-platform-prod"
)


class _RecordedArm(BaseAdapter):
    def __init__(self, responses: dict[str, tuple[int, str]]) -> None:
        super().__init__()
        self.responses = responses
        self.requests: list[tuple[str, str, str | None]] = []

    def send(self, request, **kwargs):
        path = requests.utils.urlparse(request.url).path
        self.requests.append((request.method, path, request.headers.get("Authorization")))
        status, fixture = self.responses.get(path, (404, "not_found.json"))
        body = (FIXTURES / fixture).read_bytes()
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(body),
            status=status,
            headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
            preload_content=False,
        )
        # The same construction requests' own HTTPAdapter uses for a network response.
        return HTTPAdapter().build_response(request, raw)

    def close(self) -> None:
        pass


class _StaticToken:
    """A TokenCredential with a fixed token (the real chain needs a tenant)."""

    token = "recorded-arm-bearer-token"

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken(self.token, 4102444800)


@pytest.fixture
def arm(monkeypatch):
    """Route the ARM client through recorded responses; yields the adapter."""
    mgmt = pytest.importorskip("azure.mgmt.containerservice")
    from azure.core.pipeline.transport import RequestsTransport

    adapter = _RecordedArm({})
    session = requests.Session()
    session.mount("https://", adapter)
    real = azure.list_credentials

    def through_adapter(*args, **kwargs):
        client = mgmt.ContainerServiceClient(
            _StaticToken(),
            "00000000-1111-2222-3333-444444444444",
            transport=RequestsTransport(session=session, session_owner=False),
            retry_total=0,
        )
        return real(*args, client=client, **kwargs)

    monkeypatch.setattr(azure, "list_credentials", through_adapter)
    try:
        yield adapter
    finally:
        session.close()


@pytest.fixture
def stack(examples):
    return azure.AzureStack(load_spec(examples / "azure.yaml").spec)


def _outputs() -> InfraOutputs:
    return InfraOutputs(target="azure", cluster_name="ml-platform-prod", region="eastus")


def test_aks_user_credentials_become_a_private_kubeconfig(arm, stack, tmp_path):
    arm.responses[CLUSTER + "/listClusterUserCredential"] = (
        200,
        "list_cluster_user_credential.json",
    )

    path = stack.write_kubeconfig(_outputs(), tmp_path / "kubeconfig")

    recorded = json.loads((FIXTURES / "list_cluster_user_credential.json").read_text())
    expected = yaml.safe_load(base64.b64decode(recorded["kubeconfigs"][0]["value"]))
    assert yaml.safe_load(path.read_text()) == expected
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    method, request_path, authorization = arm.requests[0]
    assert (method, request_path) == ("POST", CLUSTER + "/listClusterUserCredential")
    assert authorization == f"Bearer {_StaticToken.token}"


def test_aks_admin_credentials_are_listed_only_when_asked(arm, stack, tmp_path):
    arm.responses[CLUSTER + "/listClusterAdminCredential"] = (
        200,
        "list_cluster_admin_credential.json",
    )

    path = stack.write_kubeconfig(_outputs(), tmp_path / "kubeconfig", admin=True)

    config = yaml.safe_load(path.read_text())
    assert config["users"][0]["name"].startswith("clusterAdmin_")
    assert [r[1] for r in arm.requests] == [CLUSTER + "/listClusterAdminCredential"]


def test_the_kubeconfig_token_and_key_are_masked_in_later_output(arm, stack, tmp_path):
    arm.responses[CLUSTER + "/listClusterUserCredential"] = (
        200,
        "list_cluster_user_credential.json",
    )

    path = stack.write_kubeconfig(_outputs(), tmp_path / "kubeconfig")

    user = yaml.safe_load(path.read_text())["users"][0]["user"]
    line = f"debug: token={user['token']} key={user['client-key-data']}"
    assert redact.redact(line) == "debug: token=*** key=***"


def test_a_missing_aks_cluster_says_so(arm, stack, tmp_path):
    with pytest.raises(KfstackError) as caught:
        stack.write_kubeconfig(_outputs(), tmp_path / "kubeconfig")

    assert "ml-platform-prod/ml-platform-prod does not exist" in caught.value.message
    assert not (tmp_path / "kubeconfig").exists()


def test_forbidden_credentials_name_the_azure_role_to_grant(arm, stack, tmp_path):
    arm.responses[CLUSTER + "/listClusterUserCredential"] = (403, "forbidden.json")

    with pytest.raises(CredentialsError) as caught:
        stack.write_kubeconfig(_outputs(), tmp_path / "kubeconfig")

    assert caught.value.exit_code == 2
    assert "Azure Kubernetes Service Cluster User Role" in caught.value.hint


def test_without_the_azure_extra_the_error_names_it(stack, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "azure.mgmt.containerservice", None)

    with pytest.raises(UserError) as caught:
        stack.write_kubeconfig(_outputs(), tmp_path / "kubeconfig")

    assert caught.value.exit_code == 2
    assert "kfstack[azure]" in caught.value.hint
