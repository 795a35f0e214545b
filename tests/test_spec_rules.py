"""Cross-field rules reject impossible specs with exit 2 and the path of the field at fault."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from installer.cli import cli

AWS = (
    "name: x\ntarget: aws\naws: {region: us-east-1}\nnode_pools:\n- {name: sys, min: 1, max: 2}\n"
)
HOST_KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBaDindwgluuYgk+"
    "JBx2S6Zzg3qTkXN91sCKzbm1POldil/pxjrDNbEeleKfngmrM8OwM8MiNJ3hxVlPs4JjNBs="
)
BAREMETAL = (
    "name: x\ntarget: baremetal\nbaremetal:\n  hosts:\n"
    "  - {name: s, address: 192.0.2.10, user: u, ssh_key: /k, role: server,"
    f" host_key: {HOST_KEY}}}\n"
)


def validate(tmp_path, text: str, *args: str):
    path = tmp_path / "kfstack.yaml"
    path.write_text(text)
    return CliRunner().invoke(cli, ["validate", "-c", str(path), *args])


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        (
            AWS + "- {name: g, gpu: {model: H100-NVL}, max: 1}\n",
            "node_pools[1].gpu.model",
            "aws offers no H100-NVL instances",
        ),
        (
            AWS.replace("us-east-1", "eu-central-1")
            + "- {name: g, gpu: {model: A100-80GB, count: 8}, max: 1}\n",
            "node_pools[1].gpu.model",
            "A100-80GB is not offered in eu-central-1",
        ),
        (
            AWS + "- {name: g, gpu: {model: L4, count: 3}, max: 1}\n",
            "node_pools[1].gpu.count",
            "no aws instance in us-east-1 has 3 x L4",
        ),
        (
            AWS + "- {name: g, gpu: {model: H10}, max: 1}\n",
            "node_pools[1].gpu.model",
            "did you mean H100?",
        ),
        (
            AWS + "- {name: c, min: 3, max: 1}\n",
            "node_pools[1].min",
            "min (3) is larger than max (1)",
        ),
        (
            AWS.replace(
                "{region: us-east-1}", "{region: us-east-1, zones: [us-west-2a, us-east-1b]}"
            ),
            "aws.zones[0]",
            "zone 'us-west-2a' is not in region us-east-1",
        ),
        (
            AWS + "- {name: c, zones: [eu-west-1a]}\n",
            "node_pools[1].zones[0]",
            "not in region us-east-1",
        ),
        (
            AWS + "- {name: c, zones: [us-east-1c]}\n",
            "node_pools[1].zones[0]",
            "zone 'us-east-1c' is not one of aws.zones",
        ),
        (
            AWS.replace(
                "{region: us-east-1}",
                "{region: us-east-1, kms_key_arn: 'arn:aws:kms:us-west-2:123456789012:key/"
                "1234abcd-12ab-34cd-56ef-1234567890ab'}",
            ),
            "aws.kms_key_arn",
            "EKS encrypts with a KMS key of its own region (us-east-1), not of us-west-2",
        ),
        (
            AWS.replace(
                "{region: us-east-1}",
                "{region: us-east-1, secrets_encryption: false, kms_key_arn: 'arn:aws:kms:"
                "us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'}",
            ),
            "aws.kms_key_arn",
            "a KMS key is given but aws.secrets_encryption is false",
        ),
        (
            AWS.replace("{region: us-east-1}", "{region: us-east-1, kms_key_arn: alias/mine}"),
            "aws.kms_key_arn",
            "String should match pattern",
        ),
        (
            AWS.replace("us-east-1", "ap-south-9"),
            "aws.zones",
            "list two or more zones, e.g. zones: [ap-south-9a, ap-south-9b]",
        ),
        (
            "name: x\ntarget: existing\nexisting: {}\nstorage: {rwx: true}\n",
            "storage.rwx",
            "existing.rwx_class",
        ),
        (
            BAREMETAL + "storage: {snapshots: true}\n",
            "storage.snapshots",
            "set storage.rwx: true with baremetal.nfs, or storage.snapshots: false",
        ),
        (
            AWS + "kubeflow:\n  auth:\n    connectors:\n    - {type: github, client_id: abc}\n",
            "kubeflow.auth.connectors[0].client_secret",
            "no secret reference",
        ),
        (
            AWS.replace("name: x\n", "name: x\nkubernetes: {version: '1.31'}\n"),
            "kubernetes.version",
            "aws supports Kubernetes 1.32 to 1.35",
        ),
    ],
)
def test_an_impossible_spec_exits_2_naming_the_field(tmp_path, text, path, words):
    result = validate(tmp_path, text)
    assert result.exit_code == 2, result.output
    line = next((ln for ln in result.output.splitlines() if ln.startswith(f"  - {path}: ")), None)
    assert line is not None, result.output
    assert words in line


def test_snapshots_on_bare_metal_with_nfs_validate(tmp_path):
    text = BAREMETAL + (
        "  nfs: {server: 192.0.2.20, path: /export}\nstorage: {rwx: true, snapshots: true}\n"
    )
    result = validate(tmp_path, text)
    assert result.exit_code == 0, result.output


def test_snapshots_on_an_existing_cluster_warn_that_the_cluster_brings_its_own(tmp_path):
    result = validate(
        tmp_path, "name: x\ntarget: existing\nexisting: {}\nstorage: {snapshots: true}\n"
    )
    assert result.exit_code == 0, result.output
    assert "storage.snapshots: kfstack installs no snapshot controller" in result.output


def test_gke_below_standard_support_warns_unless_the_extended_channel_is_chosen(tmp_path):
    spec = {
        "name": "x",
        "target": "gcp",
        "gcp": {"project": "acme-ml-dev", "region": "us-central1"},
        "kubernetes": {"version": "1.34"},
    }
    warned = validate(tmp_path, yaml.safe_dump(spec))
    assert warned.exit_code == 0, warned.output
    assert "gcp.release_channel: GKE creates Kubernetes 1.34 only on the EXTENDED channel" in (
        warned.output
    )
    spec["gcp"]["release_channel"] = "EXTENDED"
    quiet = validate(tmp_path, yaml.safe_dump(spec))
    assert quiet.exit_code == 0 and "EXTENDED channel" not in quiet.output


def test_a_spec_nested_absurdly_deep_names_where(tmp_path):
    deep = "x"
    for _ in range(40):
        deep = {"k": deep}
    result = validate(tmp_path, yaml.safe_dump({"name": "x", "target": "aws", "aws": deep}))
    assert result.exit_code == 2
    assert "  - aws.k.k.k" in result.output and "nested more than 32 levels" in result.output


def test_a_billion_laughs_spec_is_refused_quickly_naming_the_key(tmp_path):
    text = "name: x\ntarget: aws\naws: {region: us-east-1}\n"
    text += 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    result = validate(tmp_path, text)
    assert result.exit_code == 2
    assert "  - h: the spec holds more than 100000 values" in result.output
