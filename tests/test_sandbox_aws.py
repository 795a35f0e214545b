"""The sandbox's AWS emulator runs only inside its `with` block, reaches child processes
only, and corrects moto's EKS gaps so real terraform re-plans clean after an apply."""

from __future__ import annotations

import builtins
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from installer.errors import UserError
from installer.sandbox import aws

pytest.importorskip("moto.server")

DATA = Path(__file__).parent / "data" / "sandbox_eks"
PROVIDER_MIRROR = Path("/opt/tf-plugins")


def test_child_env_points_at_the_emulator_and_drops_real_credentials():
    emu = aws.Emulator(endpoint="http://127.0.0.1:1", region="eu-west-1")
    base = {
        "PATH": "/usr/bin",
        "AWS_PROFILE": "prod",
        "AWS_SESSION_TOKEN": "real-session",
        "AWS_ACCESS_KEY_ID": "AKIAREALREALREAL",
        "AWS_ENDPOINT_URL_EKS": "https://eks.real",
    }
    env = emu.child_env(base)
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert env["AWS_ACCESS_KEY_ID"] == aws.ACCESS_KEY_ID
    assert (env["AWS_REGION"], env["PATH"]) == ("eu-west-1", "/usr/bin")
    for gone in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_EKS"):
        assert gone not in env
    assert base["AWS_PROFILE"] == "prod"  # the caller's mapping is not modified


def test_without_moto_the_sandbox_asks_for_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_moto(name, *args, **kwargs):
        if name.startswith("moto"):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_moto)
    with pytest.raises(UserError) as err:
        with aws.emulator("us-west-2"):
            pass
    assert err.value.exit_code == 2
    assert "pip install 'kfstack[sandbox]'" in err.value.render()


def test_the_emulator_stops_and_leaves_this_process_untouched():
    import boto3
    from moto.core.config import default_user_config

    before = dict(os.environ)
    with aws.emulator("us-west-2") as emu:
        env = emu.child_env()
        iam = boto3.client(
            "iam",
            endpoint_url=emu.endpoint,
            region_name="us-west-2",
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
        assert policy["Policy"]["PolicyName"] == "AmazonEKSClusterPolicy"
    assert dict(os.environ) == before
    assert default_user_config["iam"]["load_aws_managed_policies"] is False
    with pytest.raises(OSError):
        import urllib.request

        urllib.request.urlopen(emu.endpoint + "/moto-api/", timeout=2)


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("terraform") is None, reason="needs terraform on PATH")
@pytest.mark.skipif(not PROVIDER_MIRROR.is_dir(), reason="needs the AWS provider mirror")
def test_real_terraform_applies_eks_and_re_plans_clean_against_the_emulator(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(DATA, root)
    rc = tmp_path / "terraformrc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{ path = "{PROVIDER_MIRROR}" }}\n}}\n'
    )
    with aws.emulator("us-west-2") as emu:
        env = emu.child_env() | {"TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1"}

        def tf(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                ["terraform", *args, "-no-color", "-input=false"],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )

        init = tf("init")
        assert init.returncode == 0, init.stderr
        apply = tf("apply", "-auto-approve")
        assert apply.returncode == 0, apply.stderr + apply.stdout
        replan = tf("plan", "-detailed-exitcode")
        # 0: no changes. 2 would mean the emulator drifted from what was applied.
        assert replan.returncode == 0, replan.stdout[-3000:]
        destroy = tf("destroy", "-auto-approve")
        assert destroy.returncode == 0, destroy.stderr
