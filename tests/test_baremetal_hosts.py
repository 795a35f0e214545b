"""The bare-metal stack applied for real: `kfstack apply` over SSH to four test hosts.

What is real: `kfstack apply/plan/destroy` and the real terraform they drive, the
module's provisioners over SSH, OpenSSH's sshd on every host, the module's install,
node and remove scripts, and `write_kubeconfig` over the OpenSSH client.

What is a stand-in, because it cannot be downloaded here: the k3s binary, the k3s
install script and the NVIDIA container runtime are the scripts in
`tests/standins/k3s/`. They record what they were asked to do (arguments, K3S_URL,
K3S_TOKEN, labels, taints, runtime) into /var/tmp/k3s-standin/records on the host they
run on, and the k3s stand-in writes what a real server writes (node token, k3s.yaml).
The stack runs in air-gap mode, which copies binary, image tarball and install script
from local paths, so the stand-ins travel the same way the real artifacts would.

The hosts are network namespaces with their own sshd and their own overlay view of
/etc, /var and /usr/local (see `tests/netns_hosts.py`). Three log in as root; cpu2 as a
non-root user with passwordless sudo, so the module's `sudo -n` path runs for real.
Every host has an Ed25519 and an ECDSA host key and the spec pins the ECDSA one
(`host_key_checking: strict`), so Terraform's connections and kfstack's own ssh verify
every host for real; the tests near the end show a wrong key stopping each of them.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import netns_hosts
import pytest
import yaml
from click.testing import CliRunner, Result

from installer import hostkeys
from installer.cli import cli
from installer.errors import ToolError
from installer.hostkeys import HostKeyMismatchError
from installer.spec import parse_spec
from installer.terraform import Terraform
from stacks.baremetal import STACK_CLASS as BaremetalStack
from stacks.base import InfraOutputs

pytestmark = pytest.mark.integration

STANDINS = Path(__file__).parent / "standins" / "k3s"
HOSTS = ["ctrl", "cpu1", "cpu2", "gpu1"]
VERSION = "v1.34.2+k3s1"
GPU_MODEL = "A100-80GB"

_skip_reason = netns_hosts.unavailable()
if _skip_reason:
    pytest.skip(_skip_reason, allow_module_level=True)


class Cluster:
    """The spec, its work directory, the hosts, and `kfstack` run against them."""

    def __init__(self, network: netns_hosts.HostNetwork, base: Path) -> None:
        self.network = network
        self.base = base
        self.spec_path = base / "kfstack.yaml"
        self.workdir = base / "env"
        self.root = self.workdir / "terraform"
        self.airgap = self._airgap_bundle()
        self.engine = self._terraform_in_control_namespace()
        self.token = ""
        self.output = ""
        self.labels = {"cpu1": {"team": "vision"}}
        # cpu2 is reached as a non-root user with sudo, like a cloud image's `ubuntu`.
        self.users = {"cpu2": "ops"}
        # What the spec pins: each host's ECDSA key, the type Terraform asks for first.
        self.host_keys = {name: host.host_key("ecdsa") for name, host in network.hosts.items()}

    def _airgap_bundle(self) -> dict[str, str]:
        bundle = self.base / "airgap"
        bundle.mkdir()
        binary = bundle / "k3s"
        binary.write_text((STANDINS / "k3s").read_text().replace("@K3S_VERSION@", VERSION))
        binary.chmod(0o755)
        images = bundle / "k3s-airgap-images-amd64.tar"
        with tarfile.open(images, "w") as tar:
            tar.add(STANDINS / "k3s", arcname="manifest.json")
        return {
            "binary": str(binary),
            "images": str(images),
            "install_script": str(STANDINS / "install.sh"),
        }

    def _terraform_in_control_namespace(self) -> str:
        # The hosts are reachable only from the control namespace: kfstack runs the real
        # terraform (through `engine.binary`) and the real ssh (first on PATH) there. The
        # network path is the only stand-in here.
        bin_dir = self.base / "bin"
        bin_dir.mkdir()
        tools = (
            ("terraform", shutil.which("terraform")),
            ("ssh", "/usr/bin/ssh"),
            ("ssh-keyscan", "/usr/bin/ssh-keyscan"),
        )
        for tool, real in tools:
            wrapper = bin_dir / tool
            wrapper.write_text(
                f'#!/bin/sh\nexec ip netns exec {self.network.control} {real} "$@"\n'
            )
            wrapper.chmod(0o755)
        return str(bin_dir / "terraform")

    def spec(self, names: list[str]) -> dict:
        hosts = [
            {
                "name": name,
                "address": self.network.hosts[name].address,
                "ssh_key": str(self.network.key),
                "user": self.users.get(name, "root"),
                "role": "server" if name == "ctrl" else "agent",
                **({"gpu": GPU_MODEL.lower(), "gpu_count": 2} if name.startswith("gpu") else {}),
                "labels": self.labels.get(name, {}),
                "host_key": self.host_keys[name],
            }
            for name in names
        ]
        return {
            "name": "lab",
            "target": "baremetal",
            "baremetal": {"version": VERSION, "hosts": hosts, "airgap": self.airgap},
            "engine": {"binary": self.engine},
        }

    def kfstack(self, *args: str) -> Result:
        result = CliRunner().invoke(
            cli, [*args, "-c", str(self.spec_path), "--workdir", str(self.workdir)]
        )
        self.output += result.output
        return result

    def terraform(self, *args: str) -> subprocess.CompletedProcess:
        """Read-only terraform commands (show, output) on kfstack's root."""
        return self.network.in_control(
            ["terraform", f"-chdir={self.root}", *args, "-no-color"], timeout=60
        )

    def apply(self, names: list[str]) -> BaremetalStack:
        self.spec_path.write_text(yaml.safe_dump(self.spec(names)))
        result = self.kfstack("apply", "--yes")
        assert result.exit_code == 0, result.output[-4000:] + self.logs()[-4000:]
        self.token = (self.workdir / "secrets" / "k3s-token").read_text().strip()
        return BaremetalStack(parse_spec(self.spec_path.read_text()).spec)

    def logs(self) -> str:
        """Every log file kfstack wrote for this spec."""
        logs = sorted((self.base / ".kfstack" / "logs").glob("*"))
        return "".join(path.read_text() for path in logs)

    def records(self, name: str) -> list[list[str]]:
        return self.network.hosts[name].records()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("baremetal")
    with netns_hosts.host_network(base, HOSTS) as network, pytest.MonkeyPatch.context() as env:
        env.setenv("PATH", f"{base / 'bin'}:{os.environ['PATH']}")
        # The GPU host comes with the NVIDIA toolkit installed, as kfstack expects.
        runtime = "/usr/local/bin/nvidia-container-runtime"
        installed = network.ssh(
            network.hosts["gpu1"],
            f"mkdir -p /usr/local/bin && cat > {runtime} && chmod 0755 {runtime}",
            input=(STANDINS / "nvidia-container-runtime").read_text(),
        )
        assert installed.returncode == 0, installed.stderr
        network.hosts["cpu2"].add_sudo_user(network, "ops")
        cluster = Cluster(network, base)
        cluster.stack = cluster.apply(HOSTS)
        cluster.first_records = {name: cluster.records(name) for name in HOSTS}
        yield cluster


def events(records: list[list[str]], event: str) -> list[list[str]]:
    return [record for record in records if record[1] == event]


def fields(record: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in record[2:] if "=" in item)


def test_the_server_is_up_before_any_agent_is_installed(cluster):
    ready = events(cluster.first_records["ctrl"], "ready")
    assert len(ready) == 1
    for agent in ("cpu1", "cpu2", "gpu1"):
        (install,) = events(cluster.first_records[agent], "install")
        assert int(install[0]) > int(ready[0][0]), f"{agent} installed before the server was up"


def test_agents_join_with_the_cluster_token_and_the_server_address(cluster):
    server = cluster.network.hosts["ctrl"]
    for agent in ("cpu1", "cpu2", "gpu1"):
        (install,) = events(cluster.first_records[agent], "install")
        values = fields(install)
        assert values["role"] == "agent"
        assert values["K3S_URL"] == f"https://{server.address}:6443"
        assert values["K3S_TOKEN"] == cluster.token
        assert values["version"] == VERSION
        assert values["exec"].startswith(f"agent --node-name {agent}")
    (server_install,) = events(cluster.first_records["ctrl"], "install")
    assert fields(server_install)["K3S_TOKEN"] == cluster.token
    assert fields(server_install)["K3S_URL"] == ""
    assert (
        server.path("/var/lib/rancher/k3s/server/node-token")
        .read_text()
        .strip()
        .endswith(cluster.token)
    )


def test_air_gap_artifacts_are_copied_into_place_on_every_host(cluster):
    for name in HOSTS:
        host = cluster.network.hosts[name]
        (install,) = events(cluster.first_records[name], "install")
        assert fields(install)["images"].split() == ["k3s-airgap-images-amd64.tar"]
        k3s = host.path("/usr/local/bin/k3s")
        assert k3s.read_text() == Path(cluster.airgap["binary"]).read_text()
        token = host.path("/etc/rancher/k3s/kfstack-token")
        assert stat.S_IMODE(token.stat().st_mode) == 0o600
        assert not host.path("/var/tmp/kfstack-k3s/token").exists(), "staged token left behind"
    # The non-root host staged as its own user and installed through sudo.
    passwd = cluster.network.hosts["cpu2"].path("/etc/passwd").read_text()
    ops_uid = next(int(line.split(":")[2]) for line in passwd.splitlines() if line[:4] == "ops:")
    staging = cluster.network.hosts["cpu2"].path("/var/tmp/kfstack-k3s")
    assert staging.stat().st_uid == ops_uid
    assert stat.S_IMODE(staging.stat().st_mode) == 0o700
    assert cluster.network.hosts["cpu2"].path("/usr/local/bin/k3s").stat().st_uid == 0


def test_the_token_reaches_neither_output_logs_nor_state(cluster):
    logs = cluster.logs()
    for text in (cluster.output, logs, (cluster.root / "terraform.tfstate").read_text()):
        assert cluster.token not in text
    # The install's own output is logged, not suppressed as sensitive.
    assert "kfstack k3s-install [ctrl]: server is up" in logs


def test_the_gpu_host_gets_its_labels_taint_and_the_nvidia_runtime(cluster):
    (install,) = events(cluster.first_records["gpu1"], "install")
    command = fields(install)["exec"].split()
    pairs = list(zip(command, command[1:], strict=False))
    assert ("--node-label", "nvidia.com/gpu.present=true") in pairs
    assert ("--node-label", f"kfstack.io/gpu-model={GPU_MODEL}") in pairs
    assert ("--node-taint", "nvidia.com/gpu=present:NoSchedule") in pairs
    assert ("--default-runtime", "nvidia") in pairs
    assert events(cluster.first_records["gpu1"], "nvidia-container-runtime")

    (cpu_install,) = events(cluster.first_records["cpu1"], "install")
    cpu_command = fields(cpu_install)["exec"]
    assert "nvidia" not in cpu_command and "--node-taint" not in cpu_command
    assert "--node-label team=vision" in cpu_command


def test_a_gpu_host_without_the_nvidia_runtime_stops_before_changing_anything(cluster):
    host = cluster.network.hosts["cpu1"]
    before = cluster.records("cpu1")
    fingerprint = host.path("/var/lib/rancher/k3s/kfstack-install.sha256").read_text()

    result = cluster.network.ssh(
        host,
        "bash /var/tmp/kfstack-k3s/k3s-install.sh --role agent --node-name cpu1"
        f" --version {VERSION} --staging /var/tmp/kfstack-k3s --gpu --airgap"
        " --server-url https://10.213.77.10:6443",
    )

    assert result.returncode == 1
    assert "GPU host without nvidia-container-runtime: install the NVIDIA driver" in (
        result.stderr
    )
    assert cluster.records("cpu1") == before
    assert host.path("/var/lib/rancher/k3s/kfstack-install.sha256").read_text() == fingerprint


def test_hosts_cannot_see_each_others_files(cluster):
    network = cluster.network
    assert network.ssh(network.hosts["ctrl"], "test -s /etc/rancher/k3s/k3s.yaml").returncode == 0
    for agent in ("cpu1", "cpu2", "gpu1"):
        probe = network.ssh(network.hosts[agent], "test -e /etc/rancher/k3s/k3s.yaml")
        assert probe.returncode == 1, f"{agent} sees the server's kubeconfig"
    assert not Path("/etc/rancher/k3s/kfstack-token").exists(), "the machine itself was changed"


def test_the_kubeconfig_is_fetched_private_and_points_at_the_server(cluster, tmp_path):
    outputs = InfraOutputs.from_terraform("baremetal", terraform_outputs(cluster))

    path = cluster.stack.write_kubeconfig(outputs, tmp_path / "env" / "kubeconfig")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = yaml.safe_load(path.read_text())
    server = cluster.network.hosts["ctrl"].address
    assert config["clusters"][0]["cluster"]["server"] == f"https://{server}:6443"
    assert config["current-context"] == "lab-dev"
    assert config["contexts"][0]["context"] == {"cluster": "lab-dev", "user": "lab-dev"}


def terraform_outputs(cluster) -> dict:
    result = cluster.terraform("output", "-json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_terraform_outputs_match_what_the_stack_predicts_before_apply(cluster):
    applied = InfraOutputs.from_terraform("baremetal", terraform_outputs(cluster))
    pending = cluster.stack.pending_outputs()
    assert applied.model_dump(exclude={"init_server"}) == pending.model_dump()
    assert applied.gpu_pools[0].driver == "host"


def test_a_second_apply_changes_nothing(cluster):
    result = cluster.kfstack("plan", "--detailed-exitcode")
    assert result.exit_code == 0, result.output[-3000:]

    # The install script itself is idempotent: run again by hand, it installs nothing.
    host = cluster.network.hosts["cpu1"]
    before = cluster.records("cpu1")
    state = json.loads(cluster.terraform("show", "-json").stdout)
    (agent,) = [
        resource
        for resource in resources(state["values"]["root_module"])
        if resource["address"] == 'module.k3s.module.agent["cpu1"].terraform_data.this'
    ]
    rerun = cluster.network.ssh(host, agent["values"]["triggers_replace"]["command"])
    assert rerun.returncode == 0, rerun.stderr
    assert "nothing to change" in rerun.stdout
    assert cluster.records("cpu1") == before


def fingerprint(public_key: str) -> str:
    return hostkeys.parse(public_key).fingerprint


def other_key(directory: Path) -> str:
    """A valid ECDSA host key no test host has."""
    path = directory / "not_a_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def test_hostkeys_shows_each_hosts_own_keys_and_writes_the_one_terraform_asks_for(
    cluster, tmp_path
):
    data = cluster.spec(HOSTS)
    for host in data["baremetal"]["hosts"]:
        del host["host_key"]
    path = tmp_path / "kfstack.yaml"
    original = "# the lab's machines\n" + yaml.safe_dump(data, sort_keys=False)
    path.write_text(original)

    shown = CliRunner().invoke(cli, ["hostkeys", "-c", str(path)])

    assert shown.exit_code == 0, shown.output
    assert path.read_text() == original, "written without --write"
    for name in HOSTS:
        host = cluster.network.hosts[name]
        for kind in ("ecdsa", "ed25519"):
            # What the machine's console would show: ssh-keygen -lf /etc/ssh/ssh_host_*.pub
            listed = subprocess.run(
                ["ssh-keygen", "-lf", str(host.host_key_path(kind).with_suffix(".pub"))],
                capture_output=True,
                text=True,
                check=True,
            )
            assert listed.stdout.split()[1] in shown.output
        marked = f"ECDSA    {fingerprint(host.host_key('ecdsa'))}  ← Terraform asks for this one"
        assert marked in shown.output

    written = CliRunner().invoke(cli, ["hostkeys", "-c", str(path), "--write"])

    assert written.exit_code == 0, written.output
    text = path.read_text()
    assert text.startswith("# the lab's machines\n")
    pinned = {h.name: h.host_key for h in parse_spec(text).spec.baremetal.hosts}
    assert pinned == {
        name: " ".join(cluster.network.hosts[name].host_key("ecdsa").split()[:2]) for name in HOSTS
    }
    assert [line for line in text.splitlines() if "host_key" not in line] == (
        original.splitlines()
    )


def test_a_wrong_host_key_stops_apply_before_anything_changes(cluster, tmp_path):
    before = {name: cluster.records(name) for name in HOSTS}
    state = (cluster.root / "terraform.tfstate").read_text()
    real = cluster.host_keys["cpu1"]
    wrong = other_key(tmp_path)
    cluster.host_keys["cpu1"] = wrong
    cluster.labels["cpu1"] = {"team": "audio"}  # a change the apply would make
    try:
        cluster.spec_path.write_text(yaml.safe_dump(cluster.spec(HOSTS)))
        result = cluster.kfstack("apply", "--yes")
    finally:
        cluster.host_keys["cpu1"] = real
        cluster.labels["cpu1"] = {"team": "vision"}
        cluster.spec_path.write_text(yaml.safe_dump(cluster.spec(HOSTS)))

    assert result.exit_code == 1, result.output
    address = cluster.network.hosts["cpu1"].address
    assert (
        f"the SSH host key of cpu1 ({address}:22) is not the one pinned in "
        f"baremetal.hosts[1].host_key: expected ECDSA {fingerprint(wrong)}, "
        f"the host presents ECDSA {fingerprint(real)}; nothing was changed"
    ) in result.output
    assert "then put the new key in baremetal.hosts[1].host_key (`kfstack hostkeys`" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert {name: cluster.records(name) for name in HOSTS} == before
    assert (cluster.root / "terraform.tfstate").read_text() == state


def test_pinning_a_key_type_terraform_does_not_ask_for_is_named_before_apply(cluster):
    data = cluster.spec(HOSTS)
    data["baremetal"]["hosts"][0]["host_key"] = cluster.network.hosts["ctrl"].host_key("ed25519")
    stack = BaremetalStack(parse_spec(yaml.safe_dump(data)).spec)

    with pytest.raises(HostKeyMismatchError) as err:
        stack.check_before_apply()

    assert err.value.host == "ctrl"
    assert "baremetal.hosts[0].host_key pins the ED25519 key of ctrl" in err.value.message
    assert "Terraform's SSH client asks for ECDSA first" in err.value.message
    assert "pin the host's ECDSA key instead" in (err.value.hint or "")


def test_a_wrong_host_key_stops_the_kubeconfig_fetch_and_writes_nothing(cluster, tmp_path):
    wrong = other_key(tmp_path)
    data = cluster.spec(HOSTS)
    data["baremetal"]["hosts"][0]["host_key"] = wrong
    stack = BaremetalStack(parse_spec(yaml.safe_dump(data)).spec)
    dest = tmp_path / "env" / "kubeconfig"

    with pytest.raises(HostKeyMismatchError) as err:
        stack.write_kubeconfig(stack.pending_outputs(), dest)

    real = cluster.network.hosts["ctrl"].host_key("ecdsa")
    assert err.value.message.startswith(
        f"the SSH host key of ctrl ({cluster.network.hosts['ctrl'].address}:22) is not the "
        f"one pinned in baremetal.hosts[0].host_key: expected ECDSA {fingerprint(wrong)}; "
        f"the host sent {fingerprint(real)}"
    )
    assert err.value.exit_code == 1
    assert not dest.exists()


def test_terraform_refusing_a_host_key_is_explained_naming_host_and_fingerprint(cluster, tmp_path):
    # kfstack's own check runs first and would stop this; here Terraform meets the wrong
    # key itself (in a root of its own, so the cluster's state is untouched), with a short
    # connection timeout instead of five minutes of retries.
    wrong = other_key(tmp_path)
    data = cluster.spec(["ctrl"])
    data["baremetal"]["hosts"][0]["host_key"] = wrong
    stack = BaremetalStack(parse_spec(yaml.safe_dump(data)).spec)
    root = tmp_path / "terraform"
    stack.write(root)
    document = json.loads((root / "main.tf.json").read_text())
    document["module"]["k3s"]["connection_timeout"] = "2s"
    (root / "main.tf.json").write_text(json.dumps(document))
    before = cluster.records("ctrl")
    runner = Terraform(cluster.engine, root, env={"TF_VAR_k3s_token": "t" * 48})
    runner.init()

    with pytest.raises(ToolError) as err:
        runner.apply_auto()
    explained = stack.explain_failure(err.value)

    assert "knownhosts: key mismatch" in err.value.message
    assert isinstance(explained, HostKeyMismatchError)
    assert explained.message.startswith(
        f"Terraform refused the SSH host key of ctrl ({cluster.network.hosts['ctrl'].address}"
        f":22): it is not the one pinned in baremetal.hosts[0].host_key (expected ECDSA "
        f"{fingerprint(wrong)})"
    )
    assert "`kfstack hostkeys`" in (explained.hint or "")
    assert cluster.records("ctrl") == before


def test_changing_a_label_reinstalls_in_place_without_uninstalling(cluster):
    before = {name: cluster.records(name) for name in HOSTS}

    cluster.labels["cpu1"] = {"team": "nlp"}
    cluster.apply(HOSTS)

    new = cluster.records("cpu1")[len(before["cpu1"]) :]
    assert [record[1] for record in new] == ["install", "run"]
    assert "--node-label team=nlp" in fields(new[0])["exec"]
    assert cluster.network.hosts["cpu1"].path("/usr/local/bin/k3s").exists()
    # k3s applies --node-label only at registration: the registered node is relabelled
    # through the server, and the replaced instance's destroy step drains nothing.
    on_server = [r[1:] for r in cluster.records("ctrl")[len(before["ctrl"]) :]]
    assert ["kubectl", "label", "node", "cpu1", "team=nlp", "--overwrite"] in on_server
    assert not [r for r in on_server if r[1] in ("drain", "delete")]
    for name in ("cpu2", "gpu1"):
        assert cluster.records(name) == before[name]


def resources(module: dict) -> list[dict]:
    found = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        found += resources(child)
    return found


def test_removing_a_host_from_the_spec_removes_only_that_host(cluster):
    untouched = ("ctrl", "cpu1", "gpu1")
    before = {name: cluster.records(name) for name in untouched}

    cluster.apply([name for name in HOSTS if name != "cpu2"])

    removed = cluster.network.hosts["cpu2"]
    assert events(cluster.records("cpu2"), "uninstall")
    assert not removed.path("/usr/local/bin/k3s").exists()
    assert not removed.path("/var/tmp/kfstack-k3s").exists()
    server_records = cluster.records("ctrl")
    assert server_records[: len(before["ctrl"])] == before["ctrl"]
    new_on_server = server_records[len(before["ctrl"]) :]
    assert [r[1:4] for r in new_on_server] == [
        ["kubectl", "drain", "cpu2"],
        ["kubectl", "delete", "node"],
    ]
    assert new_on_server[1][4] == "cpu2"
    for name in ("cpu1", "gpu1"):
        assert cluster.records(name) == before[name]
        assert cluster.network.hosts[name].path("/usr/local/bin/k3s").exists()
    result = cluster.kfstack("plan", "--detailed-exitcode")
    assert result.exit_code == 0, result.output[-3000:]


def test_destroying_the_cluster_uninstalls_k3s_from_every_host(cluster):
    result = cluster.kfstack("destroy", "--yes")
    assert result.exit_code == 0, result.output[-4000:] + cluster.logs()[-4000:]

    for name in ("ctrl", "cpu1", "gpu1"):
        host = cluster.network.hosts[name]
        assert events(cluster.records(name), "uninstall"), f"{name} was not uninstalled"
        assert not host.path("/usr/local/bin/k3s").exists()
        assert not host.path("/etc/rancher/k3s/kfstack-token").exists()
    drained = {r[3] for r in events(cluster.records("ctrl"), "kubectl") if r[2] == "drain"}
    assert {"cpu1", "gpu1"} <= drained
    (server_uninstall,) = events(cluster.records("ctrl"), "uninstall")
    last_agent_uninstall = max(
        int(events(cluster.records(name), "uninstall")[-1][0]) for name in ("cpu1", "gpu1")
    )
    assert int(server_uninstall[0]) > last_agent_uninstall, "server removed before its agents"
