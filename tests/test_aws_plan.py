"""`terraform plan` of EKS roots with the real AWS provider, in moto: pool zones, and
the KMS envelope encryption of Secrets.

A pool's subnets are only known once the subnets exist, so the zone tests first make
them (the new VPC's module applied on its own, or an existing VPC made with boto3) and
then plan the whole root: the planned node group's `subnet_ids` are concrete ids.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import aws_harness
import boto3
import pytest
import yaml
from click.testing import CliRunner

import stacks
from installer.cli import cli
from installer.spec import load_spec

pytest.importorskip("moto.server")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform"),
]

REGION = "us-west-2"
NODE_GROUP = 'module.eks.aws_eks_node_group.this["{}"]'
CLUSTER = "module.eks.aws_eks_cluster.this"
KEY = "module.eks.aws_kms_key.secrets[0]"
KEY_GRANT = "module.eks.aws_iam_role_policy.cluster_encryption[0]"


def _spec_data(**aws) -> dict:
    return {
        "spec_version": 1,
        "name": "zones",
        "environment": "dev",
        "target": "aws",
        "aws": {"region": REGION, "zones": [f"{REGION}a", f"{REGION}b"], **aws},
        "kubernetes": {"version": "1.34"},
        "node_pools": [
            {"name": "system", "role": "system", "instance_type": "m6i.xlarge", "min": 1},
            {
                "name": "gpu-l4",
                "gpu": {"model": "L4", "count": 1},
                "min": 0,
                "max": 2,
                "zones": [f"{REGION}b"],
            },
        ],
    }


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with aws_harness.emulator_session(tmp_path_factory.mktemp("tf"), REGION) as emu:
        yield emu


def _terraform(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["terraform", *args, "-no-color"],
        cwd=root,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "kfstack.yaml"
    path.write_text(yaml.safe_dump(data))
    root = tmp_path / "root"
    stacks.for_spec(load_spec(path).spec).write(root)
    init = _terraform(root, "init", "-input=false")
    assert init.returncode == 0, init.stderr
    return root


def _plan(root: Path) -> dict[str, dict]:
    """The planned `after` values of the resources to create, by address."""
    result = _terraform(root, "plan", "-out=tf.plan", "-input=false", "-lock=false")
    assert result.returncode == 0, result.stderr
    shown = json.loads(_terraform(root, "show", "-json", "tf.plan").stdout)
    return {
        change["address"]: change["change"]["after"]
        for change in shown["resource_changes"]
        if change["change"]["actions"] == ["create"]
    }


def _private_subnets(vpc_id: str) -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    found = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    return {
        s["AvailabilityZone"]: s["SubnetId"]
        for s in found
        if not s.get("MapPublicIpOnLaunch")  # the module's public subnets map public IPs
    }


def test_a_pool_pinned_to_one_zone_of_a_new_vpc_plans_only_that_zones_private_subnet(
    emulator, tmp_path
):
    root = _write(tmp_path, _spec_data())
    vpc = _terraform(root, "apply", "-auto-approve", "-input=false", "-target=module.vpc")
    assert vpc.returncode == 0, vpc.stderr
    vpc_id = json.loads(_terraform(root, "output", "-json", "vpc_id").stdout)
    private = _private_subnets(vpc_id)
    assert sorted(private) == [f"{REGION}a", f"{REGION}b"]

    planned = _plan(root)

    assert planned[NODE_GROUP.format("gpu-l4")]["subnet_ids"] == [private[f"{REGION}b"]]
    # A pool without zones keeps every private subnet, as before.
    assert sorted(planned[NODE_GROUP.format("system")]["subnet_ids"]) == sorted(private.values())


def _existing_vpc() -> tuple[str, dict[str, str]]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        zone: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.60.{i}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate([f"{REGION}a", f"{REGION}b"])
    }
    return vpc, subnets


def test_a_pool_pinned_to_one_zone_of_an_existing_vpc_plans_the_subnet_that_aws_places_there(
    emulator, tmp_path
):
    vpc, subnets = _existing_vpc()
    network = {"vpc_id": vpc, "private_subnet_ids": [subnets[f"{REGION}a"], subnets[f"{REGION}b"]]}
    root = _write(tmp_path, _spec_data(network=network))

    planned = _plan(root)

    assert planned[NODE_GROUP.format("gpu-l4")]["subnet_ids"] == [subnets[f"{REGION}b"]]
    # subnet_ids is a set in the provider's schema: compared without order.
    assert sorted(planned[NODE_GROUP.format("system")]["subnet_ids"]) == sorted(
        network["private_subnet_ids"]
    )


def test_an_existing_vpc_without_a_subnet_in_a_pools_zone_fails_the_plan_naming_the_pool(
    emulator, tmp_path
):
    vpc, subnets = _existing_vpc()
    data = _spec_data(network={"vpc_id": vpc, "private_subnet_ids": list(subnets.values())})
    data["aws"]["zones"].append(f"{REGION}c")
    data["node_pools"][1]["zones"] = [f"{REGION}c"]
    root = _write(tmp_path, data)

    result = _terraform(root, "plan", "-input=false", "-lock=false")

    assert result.returncode == 1
    assert "No subnet is in the zones of pool(s) gpu-l4" in " ".join(result.stderr.split())


def test_a_pool_zone_outside_aws_zones_is_refused_offline_naming_the_field_and_the_fix(
    tmp_path,
):
    data = _spec_data()
    data["node_pools"][1]["zones"] = [f"{REGION}c"]
    path = tmp_path / "kfstack.yaml"
    path.write_text(yaml.safe_dump(data))

    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])

    assert result.exit_code == 2
    assert "node_pools[1].zones[0]" in result.stderr
    assert "zone 'us-west-2c' is not one of aws.zones" in result.stderr
    assert "add it to aws.zones or remove it here" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------- secrets


def test_by_default_secrets_are_encrypted_with_a_created_rotating_key_the_cluster_role_may_use(
    emulator, tmp_path
):
    planned = _plan(_write(tmp_path, _spec_data()))

    key = planned[KEY]
    assert key["enable_key_rotation"] is True
    assert key["deletion_window_in_days"] == 30
    assert planned[CLUSTER]["encryption_config"][0]["resources"] == ["secrets"]
    assert KEY_GRANT in planned


def test_a_users_key_encrypts_the_secrets_and_no_key_is_created(emulator, tmp_path):
    kms = boto3.client("kms", region_name=REGION)
    arn = kms.create_key(Description="platform team's key")["KeyMetadata"]["Arn"]

    planned = _plan(_write(tmp_path, _spec_data(kms_key_arn=arn)))

    assert KEY not in planned
    config = planned[CLUSTER]["encryption_config"][0]
    assert (config["resources"], config["provider"][0]["key_arn"]) == (["secrets"], arn)
    grant = json.loads(planned[KEY_GRANT]["policy"])
    assert [s["Resource"] for s in grant["Statement"]] == [arn]


def test_with_secrets_encryption_off_the_cluster_has_no_encryption_and_no_key(emulator, tmp_path):
    planned = _plan(_write(tmp_path, _spec_data(secrets_encryption=False)))

    assert planned[CLUSTER]["encryption_config"] == []
    assert KEY not in planned
    assert KEY_GRANT not in planned
