"""`kfstack verify` exits 0 when nothing failed, 1 when a check failed, 2 for a usage
problem, and writes its report to the work directory."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fake_kube import FakeKube, gpu_node
from verify_specs import A10_NODE_LABELS, a10_spec

from installer.cli import cli
from installer.commands import verify as verify_command

pytest.importorskip("kfp")

SPEC = a10_spec("research")


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "kfstack.yaml"
    path.write_text(SPEC)
    kubeconfig = tmp_path / ".kfstack" / "p-dev" / "kubeconfig"
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    return path


def _use(monkeypatch, kube):
    seen = {}

    def connect(path, context):
        seen["kubeconfig"], seen["context"] = path, context
        return kube

    monkeypatch.setattr(verify_command, "connect", connect)
    return seen


def test_a_simulated_cluster_passes_with_the_checks_it_could_not_run_listed(
    spec_file, tmp_path, monkeypatch
):
    kube = FakeKube(
        tmp_path,
        runs_workloads=False,
        nodes=[gpu_node("n1", A10_NODE_LABELS, "NVIDIA A10G", 1)],
    )
    seen = _use(monkeypatch, kube)
    result = CliRunner().invoke(cli, ["verify", "-c", str(spec_file), "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["simulated"] is True
    assert data["summary"] == {"passed": 1, "failed": 0, "not-run": 5}
    assert seen["kubeconfig"] == tmp_path / ".kfstack" / "p-dev" / "kubeconfig"
    report = tmp_path / ".kfstack" / "p-dev" / "verify" / "report.json"
    assert json.loads(report.read_text())["checks"] == data["checks"]


def test_a_failed_check_exits_1_and_names_it(spec_file, tmp_path, monkeypatch):
    _use(
        monkeypatch,
        FakeKube(tmp_path, nodes=[gpu_node("n1", A10_NODE_LABELS, "Tesla T4", 1)]),
    )
    result = CliRunner().invoke(
        cli, ["verify", "-c", str(spec_file), "--check", "gpu", "--timeout", "10"]
    )
    assert result.exit_code == 1, result.output
    assert "failed: gpu-job:a10: nvidia-smi saw ['Tesla T4'], not A10G" in result.stdout


def test_a_missing_kubeconfig_is_a_usage_error_with_the_next_step(tmp_path):
    spec = tmp_path / "kfstack.yaml"
    spec.write_text(SPEC)
    result = CliRunner().invoke(cli, ["verify", "-c", str(spec)])
    assert result.exit_code == 2
    assert "no kubeconfig at" in result.stderr and "kfstack up" in result.stderr
    assert "Traceback" not in result.output


def test_an_unknown_check_name_is_rejected_by_click(spec_file):
    result = CliRunner().invoke(cli, ["verify", "-c", str(spec_file), "--check", "gpus"])
    assert result.exit_code == 2
