"""The AWS emulator stand-in: its three EKS corrections and state kept across restarts."""

from __future__ import annotations

import json

import boto3
import pytest

from installer.sandbox import aws_emulator as emu_mod

pytest.importorskip("moto.server")

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "eks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.fixture
def emulator():
    with emu_mod.aws_emulator() as emulator:
        yield emulator


def _client(emulator, service):
    return boto3.client(service, **_kwargs(emulator))


def _kwargs(emulator):
    env = emulator.env()
    return {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "region_name": env["AWS_REGION"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def test_emulator_answers_eks_as_eks_does_and_keeps_state_across_a_restart(emulator):
    iam = _client(emulator, "iam")
    role = iam.create_role(RoleName="eks-test", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    # Managed policies exist only with MOTO_IAM_LOAD_MANAGED_POLICIES=true.
    iam.attach_role_policy(
        RoleName="eks-test", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
    )
    eks = _client(emulator, "eks")
    access = {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}
    eks.create_cluster(
        name="c1", version="1.33", roleArn=role, resourcesVpcConfig={}, accessConfig=access
    )
    eks.create_nodegroup(clusterName="c1", nodegroupName="ng", nodeRole=role, subnets=["s"])

    assert eks.describe_cluster(name="c1")["cluster"]["accessConfig"] == access
    group = eks.describe_nodegroup(clusterName="c1", nodegroupName="ng")["nodegroup"]
    assert "remoteAccess" not in group
    assert group["version"] == "1.33"

    port = emulator.port
    emulator.stop()
    emulator.start()
    assert emulator.port == port
    assert eks.list_clusters()["clusters"] == ["c1"]


def test_missing_moto_is_a_user_error_naming_the_install_command(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_moto(name, *args, **kwargs):
        if name.startswith("moto"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_moto)
    with pytest.raises(emu_mod.UserError) as caught:
        emu_mod.AwsEmulator()
    assert caught.value.exit_code == 2
    assert caught.value.hint == "pip install 'kfstack[sandbox]'"


def test_emulator_serves_node_group_updates_back_as_eks_does(emulator):
    iam = _client(emulator, "iam")
    role = iam.create_role(RoleName="eks-upd", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    eks = _client(emulator, "eks")
    eks.create_cluster(name="c2", roleArn=role, resourcesVpcConfig={})
    eks.create_nodegroup(clusterName="c2", nodegroupName="ng", nodeRole=role, subnets=["s"])
    update = eks.update_nodegroup_config(
        clusterName="c2", nodegroupName="ng", scalingConfig={"minSize": 0, "maxSize": 5}
    )["update"]
    described = eks.describe_update(name="c2", updateId=update["id"], nodegroupName="ng")
    assert described["update"]["status"] == "Successful"
