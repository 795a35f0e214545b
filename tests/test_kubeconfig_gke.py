"""GKE kubeconfig retrieval against recorded GKE API responses.

The real `google-cloud-container` client (REST transport) talks to a local HTTP server
on an ephemeral port that answers `GET /v1/projects/*/locations/*/clusters/*` with
responses of the documented `Cluster` shape (tests/fixtures/gke, written from the GKE
REST reference). Only the network endpoint is a stand-in.
"""

from __future__ import annotations

import base64
import json
import stat
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from installer import redact
from installer.errors import CredentialsError, KfstackError, UserError
from installer.spec import load_spec
from stacks import gcp
from stacks.base import InfraOutputs

FIXTURES = Path(__file__).parent / "fixtures" / "gke"
CLUSTER_PATH = "/v1/projects/acme-ml-staging/locations/us-central1/clusters/ml-platform-staging"


class _Recorded(BaseHTTPRequestHandler):
    responses: dict[str, tuple[int, str]] = {}
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        path = self.path.split("?", 1)[0]
        self.requests.append(path)
        status, fixture = self.responses.get(path, (404, "get_cluster_404.json"))
        body = (FIXTURES / fixture).read_bytes()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def gke_api():
    """A local GKE API answering from recorded fixtures; yields (client factory, handler)."""
    container = pytest.importorskip("google.cloud.container_v1")
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    handler = type("Handler", (_Recorded,), {"responses": {}, "requests": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def client():
        return container.ClusterManagerClient(
            credentials=AnonymousCredentials(),
            transport="rest",
            client_options=ClientOptions(api_endpoint=f"http://127.0.0.1:{server.server_port}"),
        )

    try:
        yield client, handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def stack(examples):
    return gcp.GcpStack(load_spec(examples / "gcp.yaml").spec)


def _use(monkeypatch, client_factory) -> None:
    real = gcp.get_cluster
    monkeypatch.setattr(
        gcp, "get_cluster", lambda *a, **kw: real(*a, client=client_factory(), **kw)
    )


def test_gke_kubeconfig_has_the_api_endpoint_and_ca_and_uses_the_auth_plugin(
    gke_api, stack, monkeypatch, tmp_path
):
    client_factory, handler = gke_api
    handler.responses[CLUSTER_PATH] = (200, "get_cluster.json")
    _use(monkeypatch, client_factory)
    outputs = InfraOutputs(target="gcp", cluster_name="ml-platform-staging", region="us-central1")

    path = stack.write_kubeconfig(outputs, tmp_path / "kubeconfig")

    recorded = json.loads((FIXTURES / "get_cluster.json").read_text())
    config = yaml.safe_load(path.read_text())
    context = "gke_acme-ml-staging_us-central1_ml-platform-staging"
    assert config["current-context"] == context
    assert config["clusters"] == [
        {
            "name": context,
            "cluster": {
                "server": "https://34.118.2.17",
                "certificate-authority-data": recorded["masterAuth"]["clusterCaCertificate"],
            },
        }
    ]
    user = config["users"][0]["user"]
    assert user["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert user["exec"]["provideClusterInfo"] is True
    assert user["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert handler.requests == [CLUSTER_PATH]


def test_gke_kubeconfig_is_never_written_into_the_users_kube_config(
    gke_api, stack, monkeypatch, tmp_path
):
    client_factory, handler = gke_api
    handler.responses[CLUSTER_PATH] = (200, "get_cluster.json")
    _use(monkeypatch, client_factory)
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text("users: []\n")
    monkeypatch.setenv("HOME", str(home))

    stack.write_kubeconfig(
        InfraOutputs(target="gcp", cluster_name="ml-platform-staging", region="us-central1"),
        tmp_path / "work" / "kubeconfig",
    )

    assert (home / ".kube" / "config").read_text() == "users: []\n"


def test_a_missing_gke_cluster_says_so_and_points_at_kfstack_up(
    gke_api, stack, monkeypatch, tmp_path
):
    client_factory, _ = gke_api
    _use(monkeypatch, client_factory)

    with pytest.raises(KfstackError) as caught:
        stack.write_kubeconfig(InfraOutputs(target="gcp"), tmp_path / "kubeconfig")

    assert type(caught.value) is KfstackError
    assert "does not exist" in caught.value.message
    assert "kfstack up" in caught.value.hint
    assert not (tmp_path / "kubeconfig").exists()


def test_a_gke_permission_error_is_a_credentials_error_naming_the_role(
    gke_api, stack, monkeypatch, tmp_path
):
    client_factory, handler = gke_api
    handler.responses[CLUSTER_PATH] = (403, "get_cluster_403.json")
    _use(monkeypatch, client_factory)

    with pytest.raises(CredentialsError) as caught:
        stack.write_kubeconfig(InfraOutputs(target="gcp"), tmp_path / "kubeconfig")

    assert caught.value.exit_code == 2
    assert "roles/container.clusterViewer" in caught.value.hint


def test_a_gke_cluster_still_provisioning_asks_to_wait(gke_api, stack, monkeypatch, tmp_path):
    client_factory, handler = gke_api
    handler.responses[CLUSTER_PATH] = (200, "get_cluster_provisioning.json")
    _use(monkeypatch, client_factory)

    with pytest.raises(KfstackError, match="PROVISIONING"):
        stack.write_kubeconfig(InfraOutputs(target="gcp"), tmp_path / "kubeconfig")


def test_without_the_gcp_extra_the_error_names_it(stack, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "google.cloud.container_v1", None)

    with pytest.raises(UserError) as caught:
        stack.write_kubeconfig(InfraOutputs(target="gcp"), tmp_path / "kubeconfig")

    assert caught.value.exit_code == 2
    assert "kfstack[gcp]" in caught.value.hint


def test_no_google_credentials_is_a_credentials_error(stack, monkeypatch, tmp_path):
    pytest.importorskip("google.cloud.container_v1")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))

    with pytest.raises(CredentialsError) as caught:
        stack.write_kubeconfig(InfraOutputs(target="gcp"), tmp_path / "kubeconfig")

    assert "application-default login" in caught.value.hint
    assert redact.registered_count() == 0
