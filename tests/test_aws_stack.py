"""The AWS stack's generated configuration, and the commands' refusals, without a cloud.

`terraform validate` against the real AWS provider checks the managed add-on path,
which the emulator cannot serve (moto has no EKS add-ons).
"""

from __future__ import annotations

import json
import os
import shutil
import stat

import aws_harness
import pytest
import yaml
from click.testing import CliRunner

import stacks
from installer.cli import cli
from installer.console import Reporter
from installer.spec import load_spec
from installer.terraform import Terraform
from stacks.aws import AwsStack
from stacks.base import InfraOutputs, Stack


def _spec(tmp_path, **changes):
    data = yaml.safe_load((aws_harness.REPO / "examples" / "aws.yaml").read_text())
    data.update(changes)
    path = tmp_path / "kfstack.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, load_spec(path).spec


def test_gpu_pools_get_the_nvidia_ami_their_taint_and_the_labels_the_platform_selects_on(
    tmp_path,
):
    _, spec = _spec(tmp_path)
    main = AwsStack(spec).documents()["main.tf.json"]
    pools = main["module"]["eks"]["node_pools"]
    assert pools["gpu-a10g"] == {
        "instance_types": ["g5.xlarge"],
        "ami_type": "AL2023_x86_64_NVIDIA",
        "capacity_type": "SPOT",
        "min_size": 0,
        "max_size": 4,
        "desired_size": 0,
        "disk_size": 100,
        "labels": {
            "kfstack.io/pool": "gpu-a10g",
            "kfstack.io/role": "gpu",
            "kfstack.io/gpu-model": "A10G",
            "kfstack.io/gpu-count": "1",
            "nvidia.com/gpu.present": "true",
        },
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}],
    }
    assert pools["system"]["ami_type"] == "AL2023_x86_64_STANDARD"
    assert pools["system"]["taints"] == []
    assert pools["system"]["capacity_type"] == "ON_DEMAND"
    gpu_out = main["output"]["gpu_pools"]["value"]
    assert [p["name"] for p in gpu_out] == ["gpu-a10g", "gpu-l4"]
    assert gpu_out[0]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    ]
    assert main["terraform"]["required_providers"]["aws"]["version"] == ">= 5.100, < 7.0"
    assert set(main["module"]) == {"vpc", "eks", "efs"}


def test_only_a_pool_with_zones_names_subnets_and_a_new_vpc_gives_them_by_zone(tmp_path):
    data = yaml.safe_load((aws_harness.REPO / "examples" / "aws.yaml").read_text())
    data["node_pools"][3]["zones"] = ["us-west-2b", "us-west-2b"]
    _, spec = _spec(tmp_path, node_pools=data["node_pools"])
    main = AwsStack(spec).documents()["main.tf.json"]
    pools = main["module"]["eks"]["node_pools"]
    assert pools["gpu-l4"]["subnet_ids"] == [
        '${module.vpc.private_subnet_ids_by_zone["us-west-2b"]}'
    ]
    assert [name for name, pool in pools.items() if "subnet_ids" in pool] == ["gpu-l4"]
    assert main["module"]["eks"]["subnet_ids"] == "${module.vpc.private_subnet_ids}"
    assert "data" not in main


def test_an_existing_vpc_reads_its_subnets_zones_only_for_pools_pinned_to_zones(tmp_path):
    network = {"vpc_id": "vpc-0abc", "private_subnet_ids": ["subnet-0a1", "subnet-0b2"]}
    pools = [
        {"name": "system", "role": "system", "min": 2},
        {"name": "g", "gpu": {"model": "L4"}, "min": 0, "zones": ["us-west-2a"]},
    ]
    _, spec = _spec(tmp_path, aws={"region": "us-west-2", "network": network}, node_pools=pools)
    main = AwsStack(spec).documents()["main.tf.json"]
    assert main["data"]["aws_subnet"]["private"] == {
        "for_each": '${toset(["subnet-0a1", "subnet-0b2"])}',
        "id": "${each.value}",
    }
    assert main["module"]["eks"]["node_pools"]["g"]["subnet_ids"] == (
        '${[for s in data.aws_subnet.private : s.id if contains(["us-west-2a"],'
        " s.availability_zone)]}"
    )
    assert "subnet_ids" not in main["module"]["eks"]["node_pools"]["system"]


def test_secrets_are_encrypted_by_default_with_a_key_the_module_creates(tmp_path):
    _, spec = _spec(tmp_path)
    eks = AwsStack(spec).documents()["main.tf.json"]["module"]["eks"]
    assert (eks["secrets_encryption"], eks["kms_key_arn"]) == (True, None)


def test_a_users_kms_key_is_passed_through_and_turning_encryption_off_passes_no_key(tmp_path):
    arn = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    _, spec = _spec(tmp_path, aws={"region": "us-west-2", "kms_key_arn": arn})
    eks = AwsStack(spec).documents()["main.tf.json"]["module"]["eks"]
    assert (eks["secrets_encryption"], eks["kms_key_arn"]) == (True, arn)
    _, spec = _spec(tmp_path, aws={"region": "us-west-2", "secrets_encryption": False})
    eks = AwsStack(spec).documents()["main.tf.json"]["module"]["eks"]
    assert (eks["secrets_encryption"], eks["kms_key_arn"]) == (False, None)


def test_an_existing_vpc_is_used_by_id_and_s3_state_gets_its_backend_block(tmp_path):
    _, spec = _spec(
        tmp_path,
        aws={
            "region": "us-west-2",
            "network": {
                "vpc_id": "vpc-0abc",
                "private_subnet_ids": ["subnet-0a1", "subnet-0b2"],
            },
            "addons": "managed",
        },
        state={
            "backend": "s3",
            "bucket": "tf-state",
            "region": "us-west-2",
            "dynamodb_table": "tf-lock",
        },
    )
    stack = AwsStack(spec)
    main = stack.documents()["main.tf.json"]
    assert "vpc" not in main["module"]
    assert main["module"]["eks"]["subnet_ids"] == ["subnet-0a1", "subnet-0b2"]
    assert main["module"]["efs"]["vpc_cidr_block"] == "${data.aws_vpc.existing.cidr_block}"
    assert main["terraform"]["backend"] == {
        "s3": {
            "bucket": "tf-state",
            "key": "ml-platform/dev/terraform.tfstate",
            "region": "us-west-2",
            "dynamodb_table": "tf-lock",
            "encrypt": True,
        }
    }
    assert stack.module_names() == ["aws-eks", "aws-efs"]
    assert "aws_subnet" not in main["data"]


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform")
def test_the_managed_addon_configuration_validates_against_the_real_aws_provider(
    tmp_path, monkeypatch
):
    for name, value in aws_harness.terraform_env(tmp_path / "tf").items():
        monkeypatch.setenv(name, value)
    _, spec = _spec(tmp_path, aws={"region": "us-west-2", "addons": "managed"})
    spec.aws.admin_role_arns = ["arn:aws:iam::123456789012:role/platform-admins"]
    root = tmp_path / "root"
    stacks.for_spec(spec).write(root)
    main = json.loads((root / "main.tf.json").read_text())
    assert main["module"]["eks"]["addons"] == "managed"
    runner = Terraform(shutil.which("terraform"), root, Reporter())
    runner.init()
    runner.validate()
    assert (root / ".terraform.lock.hcl").is_file()


def test_write_is_deterministic_and_drops_root_files_from_an_earlier_spec(tmp_path):
    _, spec = _spec(tmp_path)
    root = tmp_path / "root"
    root.mkdir()
    (root / "old.tf.json").write_text("{}")
    AwsStack(spec).write(root)
    first = (root / "main.tf.json").read_text()
    AwsStack(spec).write(root)
    assert (root / "main.tf.json").read_text() == first
    assert not (root / "old.tf.json").exists()
    assert sorted(p.name for p in (root / "modules").iterdir()) == [
        "aws-efs",
        "aws-eks",
        "aws-vpc",
    ]


def test_stacks_without_a_kubeconfig_hook_say_so():
    class Bare(Stack):
        target = "bare"

        def documents(self):
            return {}

    with pytest.raises(NotImplementedError):
        Bare(None).write_kubeconfig(InfraOutputs(target="bare"), None)


def _invoke(*args, env=None):
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_apply_without_yes_and_without_a_terminal_refuses_before_doing_anything(tmp_path):
    path, _ = _spec(tmp_path)
    code, _, err = _invoke("apply", "-c", str(path), "--workdir", str(tmp_path / "w"))
    assert code == 2
    assert "Error: apply changes infrastructure and asks for confirmation" in err
    assert "→ pass --yes to apply without asking" in err
    assert not (tmp_path / "w").exists()
    code, _, err = _invoke("destroy", "-c", str(path), "--workdir", str(tmp_path / "w"))
    assert code == 2
    assert "pass --yes to destroy" in err


def test_missing_aws_credentials_are_a_user_error_with_the_fix(tmp_path):
    path, _ = _spec(tmp_path)
    env = {name: None for name in os.environ if name.startswith("AWS_")}
    env.update(
        {
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    code, _, err = _invoke("plan", "-c", str(path), "--workdir", str(tmp_path / "w"), env=env)
    assert code == 2, err
    assert "Error: no AWS credentials found (sts:GetCallerIdentity)" in err
    assert "AWS_PROFILE" in err
    assert "Traceback" not in err


def test_a_missing_terraform_binary_is_a_user_error_naming_the_field(tmp_path):
    data = yaml.safe_load((aws_harness.REPO / "examples" / "aws.yaml").read_text())
    data["engine"] = {"binary": "terraform-not-installed"}
    path = tmp_path / "kfstack.yaml"
    path.write_text(yaml.safe_dump(data))
    code, _, err = _invoke("plan", "-c", str(path), "--workdir", str(tmp_path / "w"))
    assert code == 2
    assert "Error: terraform-not-installed: not found on PATH (infrastructure)" in err
    assert "engine.binary" in err


def test_the_kubeconfig_is_private_and_refreshes_tokens_through_kfstack(tmp_path, monkeypatch):
    _, spec = _spec(tmp_path)
    stack = AwsStack(spec)
    described = {
        "endpoint": "https://ABC.gr7.us-west-2.eks.amazonaws.com",
        "certificateAuthority": {"data": "Q0E="},
    }
    monkeypatch.setattr("installer.aws_api.describe_cluster", lambda name, region: described)
    path = stack.write_kubeconfig(
        InfraOutputs(target="aws", cluster_name="ml-platform-dev", region="us-west-2"),
        tmp_path / "kubeconfig",
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = yaml.safe_load(path.read_text())
    assert config["current-context"] == "kfstack-ml-platform-dev"
    assert config["clusters"][0]["cluster"]["certificate-authority-data"] == "Q0E="
    assert config["users"][0]["user"]["exec"]["args"][:1] == ["eks-token"]


def test_with_detailed_exitcode_every_error_exits_1_because_2_means_changes(tmp_path):
    data = yaml.safe_load((aws_harness.REPO / "examples" / "aws.yaml").read_text())
    data["engine"] = {"binary": "terraform-not-installed"}
    path = tmp_path / "kfstack.yaml"
    path.write_text(yaml.safe_dump(data))
    args = ("plan", "-c", str(path), "--workdir", str(tmp_path / "w"))
    assert _invoke(*args)[0] == 2
    code, _, err = _invoke(*args, "--detailed-exitcode")
    assert code == 1
    assert "Error: terraform-not-installed: not found on PATH" in err
