"""The KFP client submits a run as a team, waits for it, explains failures, stops at its
deadline, and treats another team's 403 as the isolation it is meant to be."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from kfp_server import FakeKfp

from installer import redact
from installer.verify import kfp_api

TOKENS = {"tok-research-0123456789": "research", "tok-platform-0123456789": "platform"}
PIPELINE = {"pipelineInfo": {"name": "kfstack-smoke-hello"}, "root": {"dag": {"tasks": {}}}}


def _client(server: FakeKfp, token: str = "tok-research-0123456789") -> kfp_api.KfpClient:
    return kfp_api.KfpClient(server.url, token, "research")


def test_a_run_that_succeeds_is_submitted_inline_in_the_teams_experiment_and_waited_on():
    with FakeKfp(TOKENS, ["run_running", "run_running", "run_succeeded"]) as server:
        result = _client(server).run_pipeline("hello", PIPELINE, timeout=30, poll=0.01)
    assert result.succeeded and result.state == "SUCCEEDED"
    assert result.run_id == "9b2f6c1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b"
    assert result.failed_tasks == []
    posts = [(path, body) for method, path, body in server.requests if method == "POST"]
    assert posts[0] == (
        "/apis/v2beta1/experiments",
        {"display_name": "kfstack-verify", "namespace": "research"},
    )
    run_path, run_body = posts[1]
    assert run_path == "/apis/v2beta1/runs"
    assert run_body["pipeline_spec"] == PIPELINE
    assert run_body["experiment_id"] == "5d6c1a52-8d0b-4c1e-9a55-0f1f2b3c4d5e"
    gets = [path for method, path, _ in server.requests if method == "GET"]
    assert gets.count("/apis/v2beta1/runs/9b2f6c1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b") == 3


def test_an_existing_experiment_is_reused():
    with FakeKfp(TOKENS, ["run_succeeded"]) as server:
        client = _client(server)
        first = client.ensure_experiment()
        second = client.ensure_experiment()
    assert first == second
    assert [m for m, p, _ in server.requests if p == "/apis/v2beta1/experiments"] == [
        "GET",
        "POST",
        "GET",
    ]


def test_a_failed_run_names_the_failed_step_its_error_pod_and_logs():
    fetched = []

    def logs(namespace: str, pod: str) -> str:
        fetched.append((namespace, pod))
        return "kfstack-gpu-model: NVIDIA T4\nthe GPU is 'Tesla T4', which does not match\n"

    with FakeKfp(TOKENS, ["run_running", "run_failed"]) as server:
        result = _client(server).run_pipeline("gpu", PIPELINE, timeout=30, poll=0.01, logs=logs)
    assert not result.succeeded and result.state == "FAILED"
    assert "failed: child" in result.error
    step = result.failed_tasks[0]
    assert (step.name, step.error) == ("check-gpu", "Error (exit code 1)")
    assert step.pod.endswith("system-container-impl-3101781622")
    assert fetched[0] == ("research", step.pod)
    text = result.explain()
    assert "step check-gpu: FAILED: Error (exit code 1)" in text
    assert "does not match" in text
    # The DAG's own entry has no pod, so there is nothing to fetch for it.
    assert len(fetched) == 1


def test_a_run_still_running_at_the_deadline_is_terminated_and_reported():
    with FakeKfp(TOKENS, ["run_running"]) as server:
        with pytest.raises(kfp_api.RunTimeout) as err:
            _client(server).run_pipeline("slow", PIPELINE, timeout=0.2, poll=0.05)
    assert err.value.state == "RUNNING"
    assert server.terminated == ["9b2f6c1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b"]
    assert "still RUNNING" in err.value.message


def test_another_teams_token_gets_403_with_the_servers_reason():
    with FakeKfp(TOKENS, ["run_succeeded"]) as server:
        other = _client(server, token="tok-platform-0123456789")
        with pytest.raises(kfp_api.KfpForbidden) as err:
            other.list_runs("research")
        assert other.list_runs("platform") == []
    assert err.value.status == 403
    assert "not authorized" in err.value.message


def test_an_unknown_token_is_an_api_error_and_the_token_never_appears_in_messages():
    with FakeKfp(TOKENS, ["run_succeeded"]) as server:
        client = kfp_api.KfpClient(server.url, "tok-stolen-0123456789", "research")
        with pytest.raises(kfp_api.KfpApiError) as err:
            client.list_runs()
    assert err.value.status == 401 and not isinstance(err.value, kfp_api.KfpForbidden)
    assert redact.redact("Bearer tok-stolen-0123456789") == "Bearer ***"


def test_an_unreachable_api_is_reported_with_its_address():
    with FakeKfp(TOKENS, ["run_succeeded"]) as server:
        url = server.url
    with pytest.raises(kfp_api.KfpApiError) as err:
        kfp_api.KfpClient(url, "tok-research-0123456789", "research").list_runs()
    assert "unreachable" in err.value.message and url in err.value.message


@pytest.fixture
def self_signed(tmp_path):
    """A self-signed certificate for localhost, as the platform's self-signed issuer makes."""
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_a_self_signed_gateway_is_trusted_only_with_its_ca_or_when_told_to(self_signed):
    cert, _ = self_signed
    with FakeKfp(TOKENS, ["run_succeeded"], tls=self_signed) as server:
        assert server.url.startswith("https://")
        strict = kfp_api.KfpClient(server.url, "tok-research-0123456789", "research")
        with pytest.raises(kfp_api.KfpApiError) as err:
            strict.list_runs()
        assert "CERTIFICATE_VERIFY_FAILED" in err.value.message
        with_ca = kfp_api.KfpClient(
            server.url, "tok-research-0123456789", "research", ca_file=cert
        )
        assert with_ca.list_runs() == []
        told = kfp_api.KfpClient(server.url, "tok-research-0123456789", "research", insecure=True)
        assert told.list_runs() == []
