"""`kfstack init` writes a spec that validates, from flags or from answered questions."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from installer.cli import cli
from installer.spec import load_spec

NON_INTERACTIVE = {
    "aws": ["--target", "aws", "--region", "us-west-2", "--gpu", "A10G:1", "--gpu", "L4:4:spot"],
    "gcp": [
        "--target",
        "gcp",
        "--project",
        "acme-ml-dev",
        "--region",
        "us-central1",
        "--gpu",
        "L4:1:spot:0-4",
        "--rwx",
    ],
    "azure": [
        "--target",
        "azure",
        "--subscription",
        "00000000-1111-2222-3333-444444444444",
        "--location",
        "eastus",
        "--gpu",
        "T4",
    ],
    "baremetal": [
        "--target",
        "baremetal",
        "--host",
        "ctrl=192.0.2.10",
        "--host",
        "gpu1=192.0.2.11:agent:A100-80GBx2",
        "--rwx",
        "--nfs",
        "192.0.2.20:/export",
    ],
    "existing": ["--target", "existing", "--context", "prod", "--rwx", "--rwx-class", "efs"],
}


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["init", *args], input=input)


@pytest.mark.parametrize("target", sorted(NON_INTERACTIVE))
def test_non_interactive_init_writes_a_spec_that_validates(tmp_path, target):
    path = tmp_path / "kfstack.yaml"
    result = invoke(
        "--non-interactive",
        "--name",
        "ml",
        "--team",
        "research:alice@example.com;bob@example.com",
        "-c",
        str(path),
        *NON_INTERACTIVE[target],
    )
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=https://")
    # Bare-metal hosts validate once their SSH host keys are pinned, which init points to.
    bare_metal = target == "baremetal"
    spec = load_spec(path, require_host_keys=not bare_metal).spec
    if bare_metal:
        assert f"next: kfstack hostkeys -c {path}" in result.output
    assert spec.target == target
    assert [t.owners for t in spec.kubeflow.teams] == [["alice@example.com", "bob@example.com"]]


def test_gpu_answers_become_pools_with_count_spot_and_bounds(tmp_path):
    path = tmp_path / "kfstack.yaml"
    result = invoke("--non-interactive", "--name", "ml", "-c", str(path), *NON_INTERACTIVE["gcp"])
    assert result.exit_code == 0, result.output
    (gpu,) = load_spec(path).spec.gpu_pools
    assert (gpu.gpu.model, gpu.gpu.count, gpu.spot, gpu.min, gpu.max) == ("L4", 1, True, 0, 4)
    assert gpu.instance_type == "g2-standard-4"


def test_a_missing_required_answer_names_its_flag_and_writes_nothing(tmp_path):
    path = tmp_path / "kfstack.yaml"
    result = invoke("--non-interactive", "--target", "gcp", "--name", "ml", "-c", str(path))
    assert result.exit_code == 2
    assert "--project is required with --non-interactive" in result.output
    assert not path.exists()


def test_an_impossible_gpu_answer_fails_validation_and_writes_nothing(tmp_path):
    path = tmp_path / "kfstack.yaml"
    result = invoke(
        "--non-interactive", "--target", "aws", "--name", "ml", "--region", "us-west-2",
        "--gpu", "H100:3", "-c", str(path),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "node_pools[1].gpu.count" in result.output
    assert "nothing was written" in result.output
    assert not path.exists()


def test_a_malformed_gpu_flag_explains_the_format(tmp_path):
    result = invoke(
        "--non-interactive", "--target", "aws", "--name", "ml", "--region", "us-west-2",
        "--gpu", "L4:four", "-c", str(tmp_path / "k.yaml"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--gpu 'L4:four' is not understood" in result.output
    assert "MODEL[:COUNT][:spot][:MIN-MAX]" in result.output


def test_an_existing_file_is_kept_unless_force_is_given(tmp_path):
    path = tmp_path / "kfstack.yaml"
    path.write_text("name: keep-me\n")
    args = ["--non-interactive", "--name", "ml", "-c", str(path), *NON_INTERACTIVE["existing"]]
    refused = invoke(*args)
    assert refused.exit_code == 2
    assert "already exists" in refused.output and "--force" in refused.output
    assert path.read_text() == "name: keep-me\n"
    forced = invoke(*args, "--force")
    assert forced.exit_code == 0, forced.output
    assert load_spec(path).spec.name == "ml"


def test_an_interactive_run_asks_each_question_and_writes_the_answers(tmp_path):
    path = tmp_path / "kfstack.yaml"
    answers = [
        "aws",  # target
        "vision",  # name
        "prod",  # environment
        "eu-west-1",  # region
        "",  # kubernetes version: default
        "T4:1:spot, A10G:4:0-1",  # GPU pools
        "y",  # RWX
        "",  # kubeflow version: default
        "pipelines,notebooks,kserve",  # components
        "cv:carol@example.com",  # teams
        "ops@example.com",  # admin e-mail
        "kubeflow.example.com",  # domain
    ]
    result = invoke("-c", str(path), input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "GPU pools" in result.output and "Teams" in result.output
    spec = load_spec(path).spec
    assert (spec.name, spec.environment, spec.aws.region) == ("vision", "prod", "eu-west-1")
    assert [(p.gpu.model, p.gpu.count, p.spot) for p in spec.gpu_pools] == [
        ("T4", 1, True),
        ("A10G", 4, False),
    ]
    assert spec.storage.rwx is True
    assert spec.kubeflow.components.enabled() == ["pipelines", "notebooks", "kserve"]
    assert spec.kubeflow.auth.admin.email == "ops@example.com"
    assert spec.kubeflow.domain == "kubeflow.example.com"


def test_flags_given_to_an_interactive_run_are_not_asked_again(tmp_path):
    path = tmp_path / "kfstack.yaml"
    result = invoke(
        "-c", str(path), "--target", "existing", "--name", "shared", "--environment", "dev",
        "--kubeconfig", "~/.kube/other", "--context", "c1", "--kubernetes-version", "1.33",
        "--no-rwx", "--kubeflow-version", "v1.11.0", "--components", "pipelines",
        "--no-teams", "--admin-email", "a@example.com", "--domain", "kf.example.com",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for question in ("Target", "Platform name", "Kubeconfig", "Components", "Teams", "Domain"):
        assert question not in result.output
    data = yaml.safe_load(path.read_text())
    assert data["existing"] == {"kubeconfig": "~/.kube/other", "context": "c1"}
    assert data["kubeflow"]["version"] == "v1.11.0"


def test_init_json_output_is_only_json_on_stdout(tmp_path):
    path = tmp_path / "kfstack.yaml"
    result = CliRunner().invoke(
        cli,
        ["init", "--non-interactive", "--name", "ml", "-c", str(path), "-o", "json"]
        + NON_INTERACTIVE["aws"],
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["written"] == str(path) and data["target"] == "aws"


@pytest.mark.parametrize(
    ("target", "flag", "value"),
    [
        ("baremetal", "--gpu", "L4"),
        ("existing", "--region", "us-east-1"),
        ("aws", "--host", "a=1"),
    ],
)
def test_a_flag_of_another_target_is_refused_not_dropped(tmp_path, target, flag, value):
    path = tmp_path / "kfstack.yaml"
    result = invoke("--non-interactive", "--target", target, "--name", "x", flag, value,
                    "--region", "us-east-1", "-c", str(path))  # fmt: skip
    assert result.exit_code == 2
    assert "does not apply to target" in result.output
    assert not path.exists()


def test_an_interactive_bare_metal_run_asks_for_hosts_and_nfs(tmp_path):
    path = tmp_path / "kfstack.yaml"
    answers = [
        "baremetal", "lab", "", "ctrl=10.0.0.1, gpu1=10.0.0.2:agent:L4x2", "ubuntu", "",
        "", "y", "10.0.0.9:/export", "", "", "", "", "",
    ]  # fmt: skip
    result = invoke("-c", str(path), input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    spec = load_spec(path, require_host_keys=False).spec
    hosts = spec.baremetal.hosts
    assert [(h.name, h.role, h.user, h.gpu, h.gpu_count) for h in hosts] == [
        ("ctrl", "server", "ubuntu", None, 1),
        ("gpu1", "agent", "ubuntu", "L4", 2),
    ]
    assert (spec.baremetal.nfs.server, spec.baremetal.nfs.path) == ("10.0.0.9", "/export")


def test_the_proposed_kubernetes_version_is_one_the_target_creates_without_warnings(tmp_path):
    path = tmp_path / "kfstack.yaml"
    result = invoke("--non-interactive", "--name", "ml", "-c", str(path), *NON_INTERACTIVE["gcp"])
    assert result.exit_code == 0, result.output
    assert load_spec(path).spec.kubernetes.version == "1.35"
    assert "EXTENDED" not in result.output


def test_validation_warnings_are_shown_when_the_spec_is_written(tmp_path):
    path = tmp_path / "kfstack.yaml"
    result = invoke("--non-interactive", "--name", "ml", "-c", str(path), "-o", "json",
                    "--kubernetes-version", "1.33", *NON_INTERACTIVE["gcp"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "! gcp.release_channel: GKE creates Kubernetes 1.33 only on the EXTENDED" in (
        result.stderr
    )
    assert json.loads(result.stdout)["warnings"]


def test_optional_questions_accept_an_empty_answer(tmp_path):
    path = tmp_path / "kfstack.yaml"
    # target, name, environment, kubeconfig, context, kubernetes, RWX, kubeflow, components,
    # teams, admin e-mail, domain: everything after the name left at its default.
    answers = ["existing", "shared"] + [""] * 10
    result = invoke("-c", str(path), input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(path.read_text())
    assert data["existing"] == {"kubeconfig": "~/.kube/config"}
    assert data["kubeflow"] == {"version": "26.03"}


@pytest.mark.parametrize(
    ("target", "names"),
    [
        ("azure", ["system", "gpua10080gb", "gpua10080gb2", "gput4"]),
        ("aws", ["system", "gpu-a100-80gb", "gpu-a100-80gb-2", "gpu-t4"]),
    ],
)
def test_gpu_pool_names_follow_each_clouds_naming_rules(tmp_path, target, names):
    path = tmp_path / "kfstack.yaml"
    args = [a for a in NON_INTERACTIVE[target] if a not in ("--gpu", "T4", "A10G:1", "L4:4:spot")]
    gpus = ["--gpu", "A100-80GB:1", "--gpu", "A100-80GB:1", "--gpu", "T4"]
    if target == "aws":
        gpus = ["--gpu", "A100-80GB:8", "--gpu", "A100-80GB:8", "--gpu", "T4"]
    result = invoke("--non-interactive", "--name", "ml", "-c", str(path), *args, *gpus)
    assert result.exit_code == 0, result.output
    assert [p.name for p in load_spec(path).spec.node_pools] == names
