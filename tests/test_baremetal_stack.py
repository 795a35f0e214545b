"""The bare-metal stack's generated configuration, checked without SSH.

`terraform plan` runs for real on the written root (no provider is needed, no host is
contacted: provisioners only run at apply), and the plan's JSON shows the install
command every host would get.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from installer import redact
from installer.cli import cli
from installer.errors import KfstackError, ToolError
from installer.hostkeys import HostKeyMismatchError
from installer.secrets import SecretStore
from installer.spec import load_spec, parse_spec
from stacks import for_spec
from stacks.baremetal import BaremetalStack, _rename, _retarget
from stacks.pools import LABEL_POOL as NODE_POOL_LABEL

MODULE_DIR = Path(__file__).resolve().parent.parent / "modules" / "baremetal-k3s"
needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform")


# A valid ECDSA public key (no machine has it): what `kfstack hostkeys --write` pins.
HOST_KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBaDindwgluuYgk+"
    "JBx2S6Zzg3qTkXN91sCKzbm1POldil/pxjrDNbEeleKfngmrM8OwM8MiNJ3hxVlPs4JjNBs="
)
HOST_KEY_FINGERPRINT = "SHA256:" + base64.b64encode(
    hashlib.sha256(base64.b64decode(HOST_KEY.split()[1])).digest()
).decode().rstrip("=")


def bare_metal(hosts: str, extra: str = "") -> BaremetalStack:
    """The stack for these hosts, each pinned to HOST_KEY unless it names its own key."""
    data = yaml.safe_load(f"name: lab\ntarget: baremetal\nbaremetal:\n  hosts:\n{hosts}{extra}")
    for host in data["baremetal"]["hosts"]:
        host.setdefault("host_key", HOST_KEY)
    stack = for_spec(parse_spec(yaml.safe_dump(data)).spec)
    assert isinstance(stack, BaremetalStack)
    return stack


THREE_HOSTS = (
    "  - {name: ctrl, address: 10.0.0.10, ssh_key: ~/.ssh/k, role: server}\n"
    "  - {name: cpu1, address: 10.0.0.11, ssh_key: ~/.ssh/k, user: ubuntu}\n"
    "  - {name: gpu1, address: 10.0.0.12, ssh_key: ~/.ssh/k, gpu: a100-80gb, gpu_count: 2}\n"
)


def plan_commands(stack: BaremetalStack, root: Path) -> dict[str, str]:
    """Host name → the install command `terraform plan` shows for it."""
    stack.write(root)
    env = {**os.environ, "TF_VAR_k3s_token": "t" * 48, "TF_IN_AUTOMATION": "1"}
    for args in (["init", "-input=false"], ["plan", "-input=false", "-out=plan.bin"]):
        result = subprocess.run(
            ["terraform", *args, "-no-color"], cwd=root, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    shown = subprocess.run(
        ["terraform", "show", "-json", "plan.bin"], cwd=root, capture_output=True, text=True
    )
    commands = {}
    for change in json.loads(shown.stdout)["resource_changes"]:
        host = re.fullmatch(
            r'module\.k3s\.module\.(server|agent)\["(.+)"\]', change.get("module_address", "")
        )
        if host and change["address"].endswith("terraform_data.this"):
            commands[host[2]] = change["change"]["after"]["triggers_replace"]["command"]
    return commands


def test_the_written_root_holds_no_token_and_declares_it_sensitive(tmp_path):
    stack = bare_metal(THREE_HOSTS)
    token = stack.secret_variables(SecretStore(tmp_path / "secrets"))["k3s_token"]
    stack.write(tmp_path / "root")

    for path in (tmp_path / "root").rglob("*"):
        if path.is_file():
            assert token not in path.read_text(), f"the token leaked into {path}"
    root = json.loads((tmp_path / "root" / "main.tf.json").read_text())
    assert root["variable"]["k3s_token"]["sensitive"] is True
    assert root["module"]["k3s"]["token"] == "${var.k3s_token}"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("{}", None),
        (
            "{backend: s3, bucket: b, region: eu-west-1, dynamodb_table: locks}",
            {
                "s3": {
                    "bucket": "b",
                    "key": "lab/dev/terraform.tfstate",
                    "region": "eu-west-1",
                    "encrypt": True,
                    "dynamodb_table": "locks",
                }
            },
        ),
        (
            "{backend: gcs, bucket: b, key: team/lab}",
            {"gcs": {"bucket": "b", "prefix": "team/lab"}},
        ),
        (
            "{backend: azurerm, storage_account: sa, container: tf, resource_group: rg}",
            {
                "azurerm": {
                    "storage_account_name": "sa",
                    "container_name": "tf",
                    "resource_group_name": "rg",
                    "key": "lab/dev/terraform.tfstate",
                }
            },
        ),
    ],
)
def test_the_state_backend_follows_the_spec(state, expected):
    stack = bare_metal(THREE_HOSTS, f"state: {state}\n")
    terraform = stack.documents()["main.tf.json"]["terraform"]

    assert terraform.get("backend") == expected


def test_the_token_is_generated_once_per_environment_and_masked(tmp_path):
    stack = bare_metal(THREE_HOSTS)
    first = stack.secret_variables(SecretStore(tmp_path))["k3s_token"]
    again = stack.secret_variables(SecretStore(tmp_path))["k3s_token"]

    assert first == again and len(first) == 48 and first.isalnum()
    assert redact.redact(f"token={first}") == "token=***"


def test_hosts_are_keyed_by_name_and_the_first_listed_server_initialises_the_cluster():
    stack = bare_metal(
        "  - {name: b, address: 10.0.0.2, ssh_key: /k, role: server}\n"
        "  - {name: a, address: 10.0.0.1, ssh_key: /k, role: server}\n"
        "  - {name: w, address: 10.0.0.3, ssh_key: ~/k}\n"
    )
    inputs = stack.inputs()

    assert inputs.init_server == "b"
    assert sorted(inputs.hosts) == ["a", "b", "w"]
    assert inputs.hosts["w"].ssh_key == str(Path.home() / "k")
    assert stack.pending_outputs().endpoint == "https://10.0.0.2:6443"


def test_gpu_pools_group_hosts_by_model_with_the_smallest_gpu_count():
    stack = bare_metal(
        "  - {name: s, address: 10.0.0.1, ssh_key: /k, role: server}\n"
        "  - {name: g1, address: 10.0.0.2, ssh_key: /k, gpu: A100-80GB, gpu_count: 4}\n"
        "  - {name: g2, address: 10.0.0.3, ssh_key: /k, gpu: a100-80gb, gpu_count: 2}\n"
        "  - {name: g3, address: 10.0.0.4, ssh_key: /k, gpu: L4}\n"
    )
    pools = {pool.name: pool for pool in stack.pending_outputs().gpu_pools}

    assert sorted(pools) == ["gpu-a100-80gb", "gpu-l4"]
    a100 = pools["gpu-a100-80gb"]
    assert (a100.gpu_model, a100.gpu_count, a100.driver) == ("A100-80GB", 2, "host")
    assert a100.model_extra["hosts"] == ["g1", "g2"]
    assert a100.labels == {"kfstack.io/gpu-model": "A100-80GB", "nvidia.com/gpu.present": "true"}
    assert a100.taints == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert stack.pending_outputs().load_balancer is False


@needs_terraform
def test_the_plan_gives_each_host_its_role_labels_taint_and_server(tmp_path):
    commands = plan_commands(bare_metal(THREE_HOSTS), tmp_path)

    assert set(commands) == {"ctrl", "cpu1", "gpu1"}
    assert "'--role' 'server'" in commands["ctrl"]
    assert "'--tls-san' '10.0.0.10'" in commands["ctrl"]
    assert "--server-url" not in commands["ctrl"] and "--cluster-init" not in commands["ctrl"]
    assert commands["cpu1"].startswith("sudo -n bash /var/tmp/kfstack-k3s/k3s-install.sh")
    assert "'--server-url' 'https://10.0.0.10:6443'" in commands["cpu1"]
    assert "--gpu" not in commands["cpu1"] and "--taint" not in commands["cpu1"]
    for name, command in commands.items():
        assert f"'--label' '{NODE_POOL_LABEL}={name}'" in command
    gpu = commands["gpu1"]
    assert "'--label' 'nvidia.com/gpu.present=true'" in gpu
    assert "'--label' 'kfstack.io/gpu-model=A100-80GB'" in gpu
    assert "'--taint' 'nvidia.com/gpu=present:NoSchedule' '--gpu'" in gpu
    # Online mode: every host downloads the install script of the pinned version.
    for command in commands.values():
        assert "'--script-url' 'https://get.k3s.io'" in command
        assert "'--version' 'v1.34.2+k3s1'" in command


@needs_terraform
def test_with_two_servers_the_first_runs_embedded_etcd_and_the_second_joins_it(tmp_path):
    stack = bare_metal(
        "  - {name: s1, address: 10.0.0.1, ssh_key: /k, role: server}\n"
        "  - {name: s2, address: 10.0.0.2, ssh_key: /k, role: server}\n",
        "  api_address: api.lab.example\n",
    )
    commands = plan_commands(stack, tmp_path)

    assert "'--cluster-init'" in commands["s1"]
    assert "'--server-url' 'https://api.lab.example:6443'" in commands["s2"]
    assert "'--tls-san' 'api.lab.example' '--tls-san' '10.0.0.2'" in commands["s2"]


@needs_terraform
def test_a_missing_air_gap_artifact_stops_the_plan_naming_the_variable(tmp_path):
    present = tmp_path / "install.sh"
    present.write_text("#!/bin/sh\n")
    stack = bare_metal(
        THREE_HOSTS,
        f"  airgap: {{binary: {tmp_path}/nope/k3s, images: {tmp_path}/nope/images.tar, "
        f"install_script: {present}}}\n",
    )
    stack.write(tmp_path / "root")
    env = {**os.environ, "TF_VAR_k3s_token": "t" * 48}
    subprocess.run(["terraform", "init"], cwd=tmp_path / "root", env=env, capture_output=True)
    result = subprocess.run(
        ["terraform", "plan", "-input=false", "-no-color"],
        cwd=tmp_path / "root",
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 1
    assert "airgap.binary, airgap.images and airgap.install_script must be" in result.stderr


def test_relative_key_and_air_gap_paths_are_read_beside_the_spec_not_the_cwd(
    tmp_path, monkeypatch
):
    site = tmp_path / "site"
    site.mkdir()
    (site / "kfstack.yaml").write_text(
        "name: lab\ntarget: baremetal\nbaremetal:\n  hosts:\n"
        "  - {name: ctrl, address: 10.0.0.10, ssh_key: keys/ctrl, role: server}\n"
        "  - {name: cpu1, address: 10.0.0.11, ssh_key: ~/.ssh/k}\n"
        "  - {name: gpu1, address: 10.0.0.12, ssh_key: /etc/kfstack/k}\n"
        "  airgap: {binary: ./offline/k3s, images: offline/images.tar, "
        "install_script: ../shared/install.sh}\n"
        "  host_key_checking: accept-new\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    inputs = for_spec(load_spec("../site/kfstack.yaml").spec).inputs()

    assert inputs.hosts["ctrl"].ssh_key == str(site / "keys" / "ctrl")
    assert inputs.hosts["cpu1"].ssh_key == str(Path.home() / ".ssh" / "k")
    assert inputs.hosts["gpu1"].ssh_key == "/etc/kfstack/k"
    assert inputs.airgap is not None
    assert inputs.airgap.binary == str(site / "offline" / "k3s")
    assert inputs.airgap.images == str(site / "offline" / "images.tar")
    assert inputs.airgap.install_script == str(tmp_path / "shared" / "install.sh")


def test_air_gap_without_an_install_script_is_rejected_by_validate(tmp_path):
    spec = tmp_path / "kfstack.yaml"
    spec.write_text(
        "name: lab\ntarget: baremetal\nbaremetal:\n  hosts:\n"
        "  - {name: ctrl, address: 10.0.0.10, ssh_key: /k, role: server}\n"
        "  airgap: {binary: /k3s, images: /images.tar}\n"
    )
    result = CliRunner().invoke(cli, ["validate", "-c", str(spec)])

    assert result.exit_code == 2
    assert "baremetal.airgap.install_script: air-gapped hosts cannot download" in result.output
    assert "Traceback" not in result.output


def test_a_host_label_that_kubernetes_would_refuse_is_rejected_by_validate(tmp_path):
    spec = tmp_path / "kfstack.yaml"
    spec.write_text(
        "name: lab\ntarget: baremetal\nbaremetal:\n  hosts:\n"
        "  - {name: ctrl, address: 10.0.0.10, ssh_key: /k, role: server,"
        " labels: {team: 'a b; rm -rf /'}}\n"
    )
    result = CliRunner().invoke(cli, ["validate", "-c", str(spec)])

    assert result.exit_code == 2
    assert "baremetal.hosts[0].labels: team=a b; rm -rf / is not a Kubernetes label" in (
        result.output
    )


def test_an_unreachable_server_fails_with_the_ssh_command_and_writes_nothing(tmp_path):
    with socket.socket() as probe:  # an ephemeral port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = tmp_path / "id"
    key.write_text("not a key\n")
    stack = bare_metal(
        f"  - {{name: ctrl, address: 127.0.0.1, port: {port}, ssh_key: {key}, role: server}}\n"
    )
    dest = tmp_path / "env" / "kubeconfig"

    with pytest.raises(ToolError) as err:
        stack.write_kubeconfig(stack.pending_outputs(), dest)

    assert "cannot read /etc/rancher/k3s/k3s.yaml from ctrl (127.0.0.1)" in err.value.message
    assert f"-p {port}" in " ".join(err.value.command)
    assert "kfstack apply" in (err.value.hint or "")
    assert not dest.exists()


def test_the_kubeconfig_is_retargeted_renamed_and_its_key_masked():
    k3s_yaml = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "default", "cluster": {"server": "https://127.0.0.1:6443"}}],
            "users": [{"name": "default", "user": {"client-key-data": "c2VjcmV0LWtleQ=="}}],
            "contexts": [
                {"name": "default", "context": {"cluster": "default", "user": "default"}}
            ],
            "current-context": "default",
        }
    )
    config = _rename(_retarget(k3s_yaml, "https://10.0.0.10:6443"), "lab-dev")

    assert config["clusters"] == [
        {"name": "lab-dev", "cluster": {"server": "https://10.0.0.10:6443"}}
    ]
    assert config["contexts"][0] == {
        "name": "lab-dev",
        "context": {"cluster": "lab-dev", "user": "lab-dev"},
    }
    assert config["current-context"] == "lab-dev"
    assert redact.redact("key c2VjcmV0LWtleQ==") == "key ***"


def test_a_server_file_that_is_not_a_kubeconfig_is_an_error():
    with pytest.raises(KfstackError, match="is not a kubeconfig"):
        _retarget("<html>nginx</html>", "https://10.0.0.10:6443")


@needs_terraform
def test_the_module_is_terraform_fmt_clean():
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(MODULE_DIR)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_the_install_scripts_are_shellcheck_clean():
    scripts = sorted(str(path) for path in (MODULE_DIR / "scripts").glob("*.sh"))
    result = subprocess.run(["shellcheck", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@needs_terraform
def test_kfstack_plan_on_bare_metal_reaches_no_host_and_keeps_the_token_out(tmp_path, examples):
    spec = tmp_path / "kfstack.yaml"
    shutil.copy(examples / "baremetal.yaml", spec)

    result = CliRunner().invoke(
        cli, ["plan", "-c", str(spec), "--workdir", str(tmp_path / "env"), "--output", "json"]
    )

    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert {r["address"] for r in plan["resources"]} == {
        f'module.k3s.module.{role}["{name}"].terraform_data.this'
        for role, name in (("server", "ctrl"), ("agent", "cpu1"), ("agent", "gpu1"))
    }
    token = (tmp_path / "env" / "secrets" / "k3s-token").read_text().strip()
    assert stat.S_IMODE((tmp_path / "env" / "secrets" / "k3s-token").stat().st_mode) == 0o600
    assert token not in result.output
    for path in (tmp_path / "env" / "terraform").glob("*.tf.json"):
        assert token not in path.read_text()


def test_each_hosts_pinned_key_reaches_the_module_without_its_comment():
    stack = bare_metal(
        f"  - {{name: ctrl, address: 10.0.0.10, ssh_key: /k, role: server, "
        f"host_key: '{HOST_KEY}  root@ctrl'}}\n"
    )
    module = stack.documents()["main.tf.json"]["module"]["k3s"]

    assert module["hosts"]["ctrl"]["host_key"] == HOST_KEY


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("ssh-ed25519", "the key data after 'ssh-ed25519' is missing"),
        ("ssh-ed25519 AAAA!!", "the key data is not base64"),
        (f"10.0.0.10 {HOST_KEY}", "this looks like a known_hosts line; drop the leading"),
        (f"ssh-ed25519 {HOST_KEY.split()[1]}", "the key data is not a ssh-ed25519 key"),
        ("ssh-dss AAAAB3NzaC1kc3M=", "DSA host keys are insecure"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "this is a private key"),
    ],
)
def test_a_malformed_host_key_is_rejected_by_validate_naming_the_field(tmp_path, key, words):
    spec = tmp_path / "kfstack.yaml"
    spec.write_text(
        "name: lab\ntarget: baremetal\nbaremetal:\n  hosts:\n"
        f"  - {{name: ctrl, address: 10.0.0.10, ssh_key: /k, role: server, host_key: '{key}'}}\n"
    )
    result = CliRunner().invoke(cli, ["validate", "-c", str(spec)])

    assert result.exit_code == 2
    assert "baremetal.hosts[0].host_key: not an OpenSSH public host key: " + words in (
        result.output
    )
    assert "Traceback" not in result.output


def test_hosts_without_keys_fail_validate_unless_accept_new_is_chosen_and_warned(tmp_path):
    spec = tmp_path / "kfstack.yaml"
    hosts = (
        "name: lab\ntarget: baremetal\nbaremetal:\n  hosts:\n"
        "  - {name: ctrl, address: 10.0.0.10, ssh_key: /k, role: server,"
        f" host_key: {HOST_KEY}}}\n"
        "  - {name: cpu1, address: 10.0.0.11, ssh_key: /k}\n"
        "  - {name: cpu2, address: 10.0.0.12, ssh_key: /k}\n"
    )
    spec.write_text(hosts)

    strict = CliRunner().invoke(cli, ["validate", "-c", str(spec)])

    assert strict.exit_code == 2
    assert (
        "baremetal.hosts[1].host_key: required while baremetal.host_key_checking is strict "
        "(the default) (run `kfstack hostkeys --write -c <this spec>`"
    ) in strict.output
    assert "baremetal.hosts[2].host_key: required" in strict.output
    assert "baremetal.hosts[0]" not in strict.output

    spec.write_text(hosts + "  host_key_checking: accept-new\n")
    accepted = CliRunner().invoke(cli, ["validate", "-c", str(spec)])

    assert accepted.exit_code == 0, accepted.output
    assert (
        "baremetal.host_key_checking: accept-new: the SSH host keys of cpu1, cpu2 are trusted "
        "on first contact and Terraform checks none for them"
    ) in accepted.output


# The diagnostic Terraform 1.11.4 printed for a host presenting another key than its
# `host_key`, as kfstack's runner renders it (captured against a real sshd).
TERRAFORM_MISMATCH = (
    "terraform apply failed:\n"
    '  module.k3s.terraform_data.airgap_bundle["cpu1"]: remote-exec provisioner error\n'
    "    timeout - last error: SSH authentication failed (root@10.0.0.11:22): "
    "ssh: handshake failed: knownhosts: key mismatch"
)


def test_terraforms_host_key_mismatch_becomes_a_message_naming_host_field_and_fingerprint():
    stack = bare_metal(THREE_HOSTS)
    error = ToolError(TERRAFORM_MISMATCH, command=["terraform", "apply"], exit_code=1)

    explained = stack.explain_failure(error)

    assert isinstance(explained, HostKeyMismatchError)
    assert explained.message.startswith(
        "Terraform refused the SSH host key of cpu1 (10.0.0.11:22): it is not the one pinned "
        f"in baremetal.hosts[1].host_key (expected ECDSA {HOST_KEY_FINGERPRINT})"
    )
    assert "then put the new key in baremetal.hosts[1].host_key" in (explained.hint or "")
    assert explained.exit_code == 1
    other = ToolError("terraform apply failed:\n  something else", command=["terraform"])
    assert stack.explain_failure(other) is other


@needs_terraform
def test_the_module_refuses_a_host_key_that_is_not_a_public_key_line(tmp_path):
    stack = bare_metal(THREE_HOSTS)
    root = tmp_path / "root"
    stack.write(root)
    document = json.loads((root / "main.tf.json").read_text())
    document["module"]["k3s"]["hosts"]["ctrl"]["host_key"] = "SHA256:notakey"
    (root / "main.tf.json").write_text(json.dumps(document))
    env = {**os.environ, "TF_VAR_k3s_token": "t" * 48}
    subprocess.run(["terraform", "init"], cwd=root, env=env, capture_output=True)
    result = subprocess.run(
        ["terraform", "plan", "-input=false", "-no-color"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 1
    assert "host_key must be an OpenSSH public host key line" in result.stderr
