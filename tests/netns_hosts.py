"""Test hosts for the bare-metal stack: Linux network namespaces, each running its own sshd.

    netns <p>c  ("control": terraform and the ssh client run here)
      br0 10.213.77.1/24
       ├── veth ── netns <p>h0  eth0 10.213.77.10  sshd :22  private /etc /var /usr/local
       ├── veth ── netns <p>h1  eth0 10.213.77.11  ...
       └── ...

Every address lives inside a namespace created here, so nothing touches the machine's
own network and parallel sessions (other prefixes) cannot collide. Each host's sshd runs
in its own mount namespace with overlays on /etc, /var and /usr/local whose upper layers
are per-host directories: what the install writes on one host is invisible to the
others and to the machine, and the test reads it from the upper layer. `/run` is a fresh
tmpfs (sshd needs /run/sshd). Teardown kills every process in the namespaces and
deletes them; the mount namespaces and overlays go with their last process.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

SUBNET = "10.213.77"
OVERLAID = ("/etc", "/var", "/usr/local")
SSHD = "/usr/sbin/sshd"
# Resolved once: tests may put an `ssh` wrapper first on PATH later.
SSH = shutil.which("ssh") or "/usr/bin/ssh"
# Host keys are fresh every session, so there is nothing to verify them against.
SSH_OPTIONS = (
    *("-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"),
    *("-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=3"),
)
READY_SECONDS = 15
# Two host key types, as most distributions' sshd has (plus RSA): Terraform's SSH client
# asks for ECDSA before Ed25519, which kfstack's host-key handling has to get right.
HOST_KEY_TYPES = ("ed25519", "ecdsa")


def unavailable() -> str | None:
    """Why test hosts cannot be made here, or None."""
    if os.geteuid() != 0:
        return "bare-metal test hosts need root (network and mount namespaces)"
    for tool in ("ip", "unshare", "ssh", "ssh-keygen", "terraform", "sudo"):
        if shutil.which(tool) is None:
            return f"bare-metal test hosts need `{tool}` on PATH"
    if not os.access(SSHD, os.X_OK):
        return f"bare-metal test hosts need {SSHD} (apt-get install openssh-server)"
    return _probe()


def _probe() -> str | None:
    """Try what the hosts need, in throwaway namespaces: a network namespace, and an
    overlay over /etc in a private mount namespace (containers often forbid either)."""
    netns = f"kfbmprobe{secrets.token_hex(3)}"
    created = subprocess.run(["ip", "netns", "add", netns], capture_output=True, text=True)
    if created.returncode != 0:
        return f"cannot create network namespaces here: {created.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", netns], capture_output=True)
    with tempfile.TemporaryDirectory() as scratch:
        upper, work = Path(scratch, "upper"), Path(scratch, "work")
        upper.mkdir()
        work.mkdir()
        overlay = f"lowerdir=/etc,upperdir={upper},workdir={work}"
        mounted = subprocess.run(
            ["unshare", "--mount", "--propagation", "private"]
            + ["mount", "-t", "overlay", "overlay", "-o", overlay, "/etc"],
            capture_output=True,
            text=True,
        )
    if mounted.returncode != 0:
        return f"cannot mount an overlay in a mount namespace here: {mounted.stderr.strip()}"
    return None


@dataclass
class TestHost:
    name: str
    address: str
    netns: str
    root: Path
    process: subprocess.Popen | None = None
    log: IO[str] | None = None

    def path(self, absolute: str) -> Path:
        """Where a path the host wrote lives on this machine (its overlay's upper layer)."""
        for base in OVERLAID:
            if absolute == base or absolute.startswith(base + "/"):
                return self.upper(base) / absolute[len(base) :].lstrip("/")
        raise ValueError(f"{absolute} is not private to the test host")

    def host_key_path(self, kind: str) -> Path:
        """This host's private `kind` host key; `.pub` beside it is its public line, as
        /etc/ssh/ssh_host_<kind>_key(.pub) on a real machine."""
        return self.root / "sshd" / f"ssh_host_{kind}_key"

    def host_key(self, kind: str = "ecdsa") -> str:
        """The public host key line (`TYPE BASE64 COMMENT`) of type `kind`."""
        return self.host_key_path(kind).with_suffix(".pub").read_text().strip()

    def upper(self, base: str) -> Path:
        return self.root / ("upper" + base.replace("/", "-"))

    def add_sudo_user(self, network: HostNetwork, user: str) -> None:
        """Create `user` on this host only (its /etc and /var are private) with
        passwordless sudo, the way cloud images set up `ubuntu` or `admin`.

        Raises:
            RuntimeError: the user could not be created.
        """
        home = f"/var/tmp/home-{user}"
        script = (
            # `*`, not useradd's `!`: sshd without PAM refuses accounts marked locked.
            f"useradd -M -d {home} -s /bin/bash -p '*' {user}"
            f" && install -d -o {user} -m 0700 {home} {home}/.ssh"
            f" && cat > {home}/.ssh/authorized_keys && chown {user} {home}/.ssh/authorized_keys"
            f" && echo '{user} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/{user}"
            f" && chmod 0440 /etc/sudoers.d/{user}"
        )
        result = network.ssh(self, script, input=network.key.with_suffix(".pub").read_text())
        if result.returncode != 0:
            raise RuntimeError(f"cannot add {user} on {self.name}: {result.stderr}")

    def records(self) -> list[list[str]]:
        """The stand-ins' records on this host: [timestamp_ns, event, fields...] per line."""
        path = self.path("/var/tmp/k3s-standin/records")
        if not path.exists():
            return []
        return [line.split("\t") for line in path.read_text().splitlines()]


@dataclass
class HostNetwork:
    control: str
    key: Path
    hosts: dict[str, TestHost] = field(default_factory=dict)

    def in_control(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        """Run `argv` inside the control namespace, where the hosts are reachable."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("check", False)
        return subprocess.run(["ip", "netns", "exec", self.control, *argv], **kwargs)

    def ssh(self, host: TestHost, command: str, **kwargs) -> subprocess.CompletedProcess:
        """Run `command` as root on `host`."""
        target = f"root@{host.address}"
        return self.in_control([SSH, "-i", str(self.key), *SSH_OPTIONS, target, command], **kwargs)


def _ip(*args: str, netns: str | None = None) -> None:
    argv = ["ip", "-n", netns, *args] if netns else ["ip", *args]
    subprocess.run(argv, check=True, capture_output=True, text=True)


def _sshd_config(host: TestHost, authorized_keys: Path) -> Path:
    sshd_dir = host.root / "sshd"
    sshd_dir.mkdir(parents=True)
    for kind in HOST_KEY_TYPES:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(host.host_key_path(kind))],
            check=True,
        )
    config = sshd_dir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "Port 22",
                *(f"HostKey {host.host_key_path(kind)}" for kind in HOST_KEY_TYPES),
                f"PidFile {sshd_dir / 'sshd.pid'}",
                # Root's key list is in the session directory; other users' in their home.
                f"AuthorizedKeysFile {authorized_keys} .ssh/authorized_keys",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                # pytest's tmp directories are not root-only; the key pair is per session.
                "StrictModes no",
                "Subsystem sftp internal-sftp",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    return config


def _start_sshd(host: TestHost, config: Path) -> subprocess.Popen:
    mounts = []
    for base in OVERLAID:
        upper, work = host.upper(base), host.root / ("work" + base.replace("/", "-"))
        upper.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        mounts.append(
            f"mount -t overlay overlay -o lowerdir={base},upperdir={upper},workdir={work} {base}"
        )
    script = " && ".join(
        [
            *mounts,
            "mount -t tmpfs tmpfs /run",
            "mkdir -m 0755 /run/sshd",
            f"exec {SSHD} -D -e -f {config}",
        ]
    )
    host.log = log = (host.root / "sshd.log").open("w")
    enter = ["ip", "netns", "exec", host.netns, "unshare", "--mount", "--propagation", "private"]
    return subprocess.Popen(
        [*enter, "sh", "-c", script],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def _wait_for_ssh(network: HostNetwork, host: TestHost) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while True:
        if host.process is not None and host.process.poll() is not None:
            log = (host.root / "sshd.log").read_text()
            raise RuntimeError(f"sshd on {host.name} exited: {log[-2000:]}")
        if network.ssh(host, "true").returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"sshd on {host.name} ({host.address}) did not answer in time")
        time.sleep(0.2)


def _kill_namespace(netns: str) -> None:
    pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [int(pid) for pid in pids.stdout.split()]
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if not alive:
            break
        time.sleep(0.3)
        pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
    subprocess.run(["ip", "netns", "del", netns], capture_output=True)


@contextlib.contextmanager
def host_network(base: Path, names: list[str]) -> Iterator[HostNetwork]:
    """Start one sshd host per name (10.213.77.10, .11, ...) and always tear them down.

    Raises:
        RuntimeError: a host's sshd did not start.
        subprocess.CalledProcessError: a namespace or link could not be created.
    """
    prefix = f"kfbm{secrets.token_hex(3)}"
    key = base / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    authorized_keys = base / "authorized_keys"
    authorized_keys.write_text(key.with_suffix(".pub").read_text())
    network = HostNetwork(control=f"{prefix}c", key=key)
    namespaces = [network.control]
    try:
        _ip("netns", "add", network.control)
        _ip("link", "set", "lo", "up", netns=network.control)
        _ip("link", "add", "br0", "type", "bridge", netns=network.control)
        _ip("addr", "add", f"{SUBNET}.1/24", "dev", "br0", netns=network.control)
        _ip("link", "set", "br0", "up", netns=network.control)
        for index, name in enumerate(names):
            host = TestHost(
                name=name,
                address=f"{SUBNET}.{10 + index}",
                netns=f"{prefix}h{index}",
                root=base / "hosts" / name,
            )
            host.root.mkdir(parents=True)
            _ip("netns", "add", host.netns)
            namespaces.append(host.netns)
            # Both ends are created directly inside their namespaces.
            veth = ("type", "veth", "peer", "name", f"p{index}", "netns", network.control)
            _ip("link", "add", "eth0", "netns", host.netns, *veth)
            _ip("link", "set", f"p{index}", "master", "br0", "up", netns=network.control)
            _ip("link", "set", "lo", "up", netns=host.netns)
            _ip("addr", "add", f"{host.address}/24", "dev", "eth0", netns=host.netns)
            _ip("link", "set", "eth0", "up", netns=host.netns)
            network.hosts[name] = host
        for host in network.hosts.values():
            host.process = _start_sshd(host, _sshd_config(host, authorized_keys))
        for host in network.hosts.values():
            _wait_for_ssh(network, host)
        yield network
    finally:
        for host in network.hosts.values():
            if host.process is not None and host.process.poll() is None:
                host.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    host.process.wait(timeout=5)
            if host.log is not None:
                host.log.close()
        for netns in reversed(namespaces):
            _kill_namespace(netns)
