"""`kfstack up --sandbox` end to end, through the real entry point in a child process.

Real parts: terraform with the real AWS provider (into moto's server, the product's own
emulator stand-in), the real Kubeflow 26.03 manifests rendered by the real kustomize,
the install engine. Stand-in: the Kubernetes API is kfstack's simulated cluster, so the
verify checks that need running pods report not-run (and the test checks that they say
so rather than pass).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aws_harness import clean_aws_env, terraform_env
from conftest import EXAMPLES, find_shared

pytestmark = pytest.mark.integration

BANNER = "SANDBOX: nothing real is created"


@pytest.fixture(scope="module")
def sandbox_env(tmp_path_factory) -> dict[str, str]:
    pytest.importorskip("moto.server")
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    base = tmp_path_factory.mktemp("sandbox-env")
    env = {k: v for k, v in os.environ.items() if k not in clean_aws_env()}
    env.update(terraform_env(base / "tf"))
    env["KFSTACK_CACHE_DIR"] = str(base / "cache")
    env["KFSTACK_LOG_DIR"] = str(base / "logs")
    env.pop("CI", None)
    shared = find_shared()
    if shared is not None:
        # What kfstack would download on a connected machine, from the offline copies.
        env["KFSTACK_KUBEFLOW_MIRROR"] = str(shared / "kubeflow-manifests")
        env["KFSTACK_ADDONS_DIR"] = str(shared / "addon-manifests")
    return env


def _up(directory: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "installer", "up", "--sandbox", "-c", "kfstack.yaml", "--yes"]
    return subprocess.run(
        [*argv, *extra],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )


def _spec_dir(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "aws.yaml", tmp_path / "kfstack.yaml")
    return tmp_path


@pytest.fixture(scope="module")
def first_and_second(tmp_path_factory, sandbox_env):
    directory = _spec_dir(tmp_path_factory.mktemp("sandbox"))
    if shutil.which("git") is not None:
        # gitops on: up commits each render and names the commit the platform phase applied.
        subprocess.run(["git", "init", "-q", "--bare", str(directory / "remote.git")], check=True)
        with (directory / "kfstack.yaml").open("a") as spec:
            spec.write("gitops: {enabled: true, repository: ./remote.git}\n")
    started = time.monotonic()
    first = _up(directory, sandbox_env, "-o", "json")
    first_seconds = time.monotonic() - started
    started = time.monotonic()
    second = _up(directory, sandbox_env)
    second_seconds = time.monotonic() - started
    return directory, first, first_seconds, second, second_seconds


def test_sandbox_up_builds_the_aws_example_end_to_end(first_and_second):
    directory, first, _, _, _ = first_and_second
    assert first.returncode == 0, first.stderr[-3000:]
    result = json.loads(first.stdout)
    assert result["sandbox"] is True and result["ok"] is True
    assert BANNER in result["notice"]
    assert [p["state"] for p in result["phases"]] == ["done"] * 7
    assert result["infrastructure_outputs"]["cluster_name"] == "ml-platform-dev"
    components = {c["name"]: c["state"] for c in result["platform_apply"]["components"]}
    assert {"cert-manager", "istio", "dex", "pipelines", "teams"} <= set(components)
    assert set(components.values()) == {"converged"}
    # Where users reach it: the address the simulated cloud gave the gateway's load
    # balancer (an ELB host name in the spec's region, as EKS answers), not a
    # placeholder, and the CNAME record the example's kubeflow.domain needs.
    address = result["gateway_address"]
    elb = r"a[0-9a-f]{31}-\d+\.us-west-2\.elb\.amazonaws\.com"
    assert re.fullmatch(elb, address or ""), result["gateway"]
    assert result["dashboard"] == "https://kubeflow.example.com/"
    assert result["dns_record"] == {
        "name": "kubeflow.example.com",
        "type": "CNAME",
        "value": address,
    }
    checks = {c["name"]: c["result"] for c in result["verify"]["checks"]}
    # Nothing executes on the simulated cluster: every check says not-run, none passes.
    assert checks and set(checks.values()) == {"not-run"}
    lines = first.stderr.strip().splitlines()
    assert any(BANNER in line for line in lines[:3]) and BANNER in lines[-1]
    # One terraform plan, the apply is of that saved plan (what the plan view showed),
    # and the outputs come from the apply's own stream (no `terraform output` run).
    log = Path(result["log"]).read_text()
    runs = re.findall(r"running \S*terraform (plan|apply|output) ([^\n]*)", log)
    assert [verb for verb, _ in runs] == ["plan", "apply"], runs
    assert runs[1][1].split(" in ")[0].endswith("kfstack.tfplan")
    if result["gitops"] is not None:
        commits = {p["name"]: p.get("commit") for p in result["phases"] if p.get("commit")}
        # One commit, made after the confirmation: the render the platform phase applied.
        assert commits == {"platform": result["gitops"]["commit"]}
        assert result["gitops"]["pushed"] is None  # the sandbox never publishes


def test_a_second_sandbox_run_commits_nothing_new_and_names_the_same_commit(first_and_second):
    directory, first, _, second, _ = first_and_second
    if shutil.which("git") is None:
        pytest.skip("needs git")
    commit = json.loads(first.stdout)["gitops"]["commit"]
    assert f"commit:     {commit}" in second.stdout
    progress = json.loads(next(directory.glob(".kfstack/*/progress.json")).read_text())
    assert progress["phases"]["platform"]["commit"] == commit
    clone = Path(json.loads(first.stdout)["gitops"]["clone"])
    count = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"], cwd=clone, capture_output=True, text=True
    )
    assert count.stdout.strip() == "1"


def test_a_second_sandbox_run_is_a_no_op(first_and_second):
    _, first, first_seconds, second, second_seconds = first_and_second
    assert second.returncode == 0, second.stderr[-3000:]
    out = second.stdout.strip().splitlines()
    assert BANNER in out[0] and BANNER in out[-1]
    assert "4. infrastructure   resumed" in second.stdout
    assert "6. platform         resumed" in second.stdout
    # The cluster from the first run is there, so the plan view shows its (empty) diff.
    assert "Platform: 0 to create, 0 to change, 0 to prune" in second.stdout
    # The same load balancer (the simulated cluster kept it), now in the text summary.
    address = json.loads(first.stdout)["gateway_address"]
    assert "  dashboard:  https://kubeflow.example.com/\n" in second.stdout
    assert f"  gateway:    {address} (LoadBalancer)\n" in second.stdout
    assert f"  DNS record: kubeflow.example.com CNAME {address}\n" in second.stdout
    print(
        f"first run {first_seconds:.1f}s, second run {second_seconds:.1f}s, "
        f"ratio {second_seconds / first_seconds:.2f}"
    )


def _sigint_delivered() -> None:
    # A test suite started in the background of a non-interactive shell (`pytest ... &`)
    # runs with SIGINT ignored, and an ignored signal stays ignored across exec: kfstack
    # would never see the Ctrl-C this test sends, finish the run and exit 0 (the flake
    # seen while a benchmark ran beside the suite). Ctrl-C must reach the child here.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupting_up_in_the_platform_phase_then_rerunning_keeps_the_infrastructure(
    tmp_path, sandbox_env
):
    directory = _spec_dir(tmp_path)
    argv = [sys.executable, "-m", "installer", "up", "--sandbox", "-c", "kfstack.yaml", "--yes"]
    proc = subprocess.Popen(
        argv,
        cwd=directory,
        env=sandbox_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_delivered,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "[6/7] platform" in line:
            proc.send_signal(signal.SIGINT)
            break
    proc.communicate(timeout=300)
    assert proc.returncode == 130, "".join(seen[-20:])
    workdir = directory / ".kfstack" / "ml-platform-dev-sandbox"
    progress = json.loads((workdir / "progress.json").read_text())
    infra_before = progress["phases"]["infrastructure"]
    assert "platform" not in progress["phases"]
    state_before = (workdir / "terraform" / "terraform.tfstate").read_text()

    rerun = _up(directory, sandbox_env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "4. infrastructure   resumed" in rerun.stdout
    progress = json.loads((workdir / "progress.json").read_text())
    assert progress["phases"]["infrastructure"] == infra_before
    assert progress["phases"]["platform"]["state"] == "done"
    assert (workdir / "terraform" / "terraform.tfstate").read_text() == state_before
