"""The verify runner reports each check as passed, failed or not-run with its reason, runs
the real nvidia-smi check script on the node a Job lands on, and never passes what did
not run."""

from __future__ import annotations

import pytest
from fake_kube import FakeKube, gpu_node
from kfp_server import FakeKfp
from verify_specs import A10_NODE_LABELS, a10_spec

from installer import verify
from installer.spec import parse_spec

pytest.importorskip("kfp")

SPEC = a10_spec("research", "platform", domain="kf.example.com")
ACCOUNTS = ("research/default-editor", "platform/default-editor")


def _spec(text: str = SPEC):
    return parse_spec(text).spec


def _by_name(report) -> dict[str, verify.CheckResult]:
    return {c.name: c for c in report.checks}


def _options(**kw) -> verify.VerifyOptions:
    return verify.VerifyOptions(
        gpu_timeout=2, pipeline_timeout=5, pipeline_poll=0.01, notebook_timeout=2, **kw
    )


def test_a_gpu_pool_whose_nodes_run_nvidia_smi_with_the_right_model_passes(tmp_path):
    kube = FakeKube(tmp_path, nodes=[gpu_node("n1", A10_NODE_LABELS, "NVIDIA A10G", 1)])
    report = verify.run(_spec(), kube, _options(checks=("gpu",)))
    checks = _by_name(report)
    assert checks["gpu-nodes:a10"].result == "passed"
    assert checks["gpu-nodes:a10"].evidence["allocatable"] == {"n1": "1"}
    job = checks["gpu-job:a10"]
    assert job.result == "passed", job.reason
    assert job.evidence["reported_models"] == ["NVIDIA A10G"]
    # The Job and the namespace kfstack created for it are gone afterwards.
    assert ("Job", "kfstack-verify-gpu-a10") in kube.deleted
    assert ("Namespace", "kfstack-verify") in kube.deleted


def test_a_node_with_a_different_gpu_model_fails_with_what_nvidia_smi_saw(tmp_path):
    kube = FakeKube(tmp_path, nodes=[gpu_node("n1", A10_NODE_LABELS, "Tesla T4", 1)])
    job = _by_name(verify.run(_spec(), kube, _options(checks=("gpu",))))["gpu-job:a10"]
    assert job.result == "failed"
    assert "Tesla T4" in job.reason
    assert any("does not match" in line for line in job.evidence["log_tail"])


def test_a_node_without_the_device_plugin_fails_the_allocatable_check(tmp_path):
    kube = FakeKube(tmp_path, nodes=[gpu_node("n1", A10_NODE_LABELS, None, 0)])
    checks = _by_name(verify.run(_spec(), kube, _options(checks=("gpu",))))
    assert checks["gpu-nodes:a10"].result == "failed"
    assert "too few nvidia.com/gpu (want 1): n1=0" in checks["gpu-nodes:a10"].reason
    assert "device plugin" in checks["gpu-nodes:a10"].reason
    assert checks["gpu-job:a10"].result == "failed"


def test_a_pool_at_zero_is_scaled_up_by_the_job_and_then_checked(tmp_path):
    kube = FakeKube(tmp_path, autoscale=[gpu_node("n9", A10_NODE_LABELS, "NVIDIA A10G", 1)])
    report = verify.run(_spec(), kube, _options(checks=("gpu",)))
    assert [(c.name, c.result) for c in report.checks] == [
        ("gpu-nodes:a10", "passed"),
        ("gpu-job:a10", "passed"),
    ]


def test_a_gpu_job_that_never_schedules_fails_at_its_deadline_and_is_removed(tmp_path):
    kube = FakeKube(tmp_path)
    checks = _by_name(verify.run(_spec(), kube, _options(checks=("gpu",))))
    assert checks["gpu-job:a10"].result == "failed"
    assert "did not finish in 2s" in checks["gpu-job:a10"].reason
    assert "Unschedulable: 0/3 nodes are available" in checks["gpu-job:a10"].reason
    assert ("Job", "kfstack-verify-gpu-a10") in kube.deleted


def test_on_a_simulated_cluster_only_the_node_check_runs_and_the_rest_say_why_not(tmp_path):
    kube = FakeKube(
        tmp_path, runs_workloads=False, nodes=[gpu_node("n1", A10_NODE_LABELS, "NVIDIA A10G", 1)]
    )
    report = verify.run(_spec(), kube, _options())
    results = {c.name: (c.result, c.reason) for c in report.checks}
    assert results["gpu-nodes:a10"] == ("passed", None)
    assert results["gpu-job:a10"][0] == "not-run"
    for name in ("pipeline-hello", "pipeline-gpu", "pipeline-isolation"):
        assert results[name] == ("not-run", "pipelines do not execute on the simulated cluster")
    assert results["notebook"][0] == "not-run"
    assert report.simulated and report.failed == []
    assert kube.created == []  # nothing was created on the simulated cluster
    line = report.not_run_line()
    assert (
        "pipeline-hello, pipeline-gpu, pipeline-isolation not run: "
        "pipelines do not execute on the simulated cluster"
    ) in line
    assert "gpu-job:a10" in line and "notebook" in line


def test_pipelines_run_as_the_first_team_and_the_second_teams_token_is_refused(tmp_path):
    kube = FakeKube(
        tmp_path,
        nodes=[gpu_node("n1", A10_NODE_LABELS, "NVIDIA A10G", 1)],
        service_accounts=ACCOUNTS,
    )
    tokens = {"sa-token-research-default-editor": "research"}
    tokens["sa-token-platform-default-editor"] = "platform"
    with FakeKfp(tokens, ["run_running", "run_succeeded"]) as server:
        options = _options(checks=("pipelines",), kfp_url=server.url)
        checks = _by_name(verify.run(_spec(), kube, options))
    assert checks["pipeline-hello"].result == "passed", checks["pipeline-hello"].reason
    assert checks["pipeline-gpu"].result == "passed"
    assert checks["pipeline-gpu"].evidence["pool"] == "a10"
    assert checks["pipeline-isolation"].result == "passed"
    assert checks["pipeline-isolation"].evidence["status"] == 403
    assert checks["pipeline-isolation"].evidence["own_namespaces"] == "200"
    submitted = [b for m, p, b in server.requests if m == "POST" and p == "/apis/v2beta1/runs"]
    gpu_doc = submitted[1]["pipeline_spec"]
    assert set(gpu_doc) == {"pipeline_spec", "platform_spec"}


def test_a_failed_pipeline_run_fails_the_check_with_the_steps_error(tmp_path):
    kube = FakeKube(tmp_path, service_accounts=ACCOUNTS)
    tokens = {"sa-token-research-default-editor": "research"}
    with FakeKfp(tokens, ["run_failed"]) as server:
        options = _options(checks=("pipelines",), kfp_url=server.url)
        checks = _by_name(verify.run(_spec(), kube, options))
    hello = checks["pipeline-hello"]
    assert hello.result == "failed"
    assert "step check-gpu: FAILED: Error (exit code 1)" in hello.reason
    # The platform team's account is missing here: the isolation check cannot get a token.
    assert checks["pipeline-isolation"].result == "failed"


def test_isolation_fails_when_no_token_works_at_all_because_403_then_proves_nothing(tmp_path):
    kube = FakeKube(tmp_path, service_accounts=ACCOUNTS)
    # The gateway knows neither token: every call is refused.
    with FakeKfp({}, ["run_succeeded"]) as server:
        options = _options(checks=("pipelines",), kfp_url=server.url)
        checks = _by_name(verify.run(_spec(), kube, options))
    isolation = checks["pipeline-isolation"]
    assert isolation.result == "failed"
    assert "cannot list its own runs" in isolation.reason
    assert checks["pipeline-hello"].result == "failed"


def test_pipeline_checks_say_why_they_cannot_run(tmp_path):
    kube = FakeKube(tmp_path, service_accounts=ACCOUNTS)
    one_team = a10_spec("research")
    checks = _by_name(verify.run(_spec(one_team), kube, _options(checks=("pipelines",))))
    assert checks["pipeline-hello"].reason.startswith("no address for the KFP API")
    off = SPEC + "  components: {pipelines: false}\n"
    checks = _by_name(verify.run(_spec(off), kube, _options(checks=("pipelines",))))
    assert "pipelines component is off" in checks["pipeline-gpu"].reason


def test_a_notebook_becomes_ready_and_is_removed(tmp_path):
    kube = FakeKube(tmp_path)
    (check,) = verify.run(_spec(), kube, _options(checks=("notebooks",))).checks
    assert (check.result, check.evidence["ready_replicas"]) == ("passed", 1)
    assert check.evidence["notebook"] == "research/kfstack-verify-notebook"
    assert kube.get("kubeflow.org/v1", "Notebook", "kfstack-verify-notebook", "research") is None


def test_a_notebook_that_never_gets_ready_fails_and_is_still_removed(tmp_path):
    kube = FakeKube(tmp_path, notebooks_start=False)
    (check,) = verify.run(_spec(), kube, _options(checks=("notebooks",))).checks
    assert check.result == "failed" and "not ready in 2s" in check.reason
    assert ("Notebook", "kfstack-verify-notebook") in kube.deleted


def test_the_report_json_counts_results_and_masks_secrets(tmp_path):
    kube = FakeKube(tmp_path, runs_workloads=False)
    report = verify.run(_spec(), kube, _options())
    report.checks[0].evidence["log_tail"] = ["token sa-token-research-default-editor"]
    from installer import redact

    redact.register("sa-token-research-default-editor")
    path = report.write(tmp_path / "verify" / "report.json")
    text = path.read_text()
    assert "sa-token-research" not in text and "***" in text
    data = report.to_dict()
    assert data["summary"]["failed"] == 0
    assert data["summary"]["not-run"] == len(report.checks) - data["summary"]["passed"]


def test_with_a_registry_mirror_every_check_image_is_pulled_through_it(tmp_path):
    mirrored = SPEC + "  registry: {mirror: registry.corp:5000/kf}\n"
    kube = FakeKube(tmp_path, nodes=[gpu_node("n1", A10_NODE_LABELS, "NVIDIA A10G", 1)])
    report = verify.run(_spec(mirrored), kube, _options(checks=("gpu", "notebooks")))
    checks = _by_name(report)
    assert checks["gpu-job:a10"].evidence["image"] == (
        "registry.corp:5000/kf/nvcr.io/nvidia/cuda:12.8.1-base-ubuntu24.04"
    )
    assert checks["notebook"].evidence["image"].startswith("registry.corp:5000/kf/ghcr.io/")


def test_a_cluster_error_under_one_step_fails_that_step_and_the_others_still_run(tmp_path):
    from installer.errors import KfstackError

    class Broken(FakeKube):
        def create(self, obj):
            if obj["kind"] == "Namespace":
                raise KfstackError('namespaces "kfstack-verify" is forbidden (403)')
            return super().create(obj)

    kube = Broken(tmp_path, nodes=[gpu_node("n1", A10_NODE_LABELS, "NVIDIA A10G", 1)])
    report = verify.run(_spec(), kube, _options(checks=("gpu", "notebooks")))
    results = {c.name: (c.result, c.reason) for c in report.checks}
    assert results["gpu"] == ("failed", 'namespaces "kfstack-verify" is forbidden (403)')
    assert results["notebook"][0] == "passed"
