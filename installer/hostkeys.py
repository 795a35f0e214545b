"""SSH host keys: the OpenSSH public key lines a spec pins, their fingerprints, what a
host presents (`ssh-keyscan`), and the known_hosts lines kfstack's own ssh reads.

    parse(text) -> HostKey                 ValueError says what is wrong with the line
    HostKey.fingerprint                    SHA256:..., as `ssh-keygen -lf` prints it
    scan(address, port) -> ScanResult      every key the host presents ([] if it is silent)
    terraform_choice(keys) -> HostKey      the key Terraform's SSH client will be shown
    known_hosts_line(address, port, key)   `addr` or `[addr]:port`, as OpenSSH writes them
    HostKeyMismatchError                   a host presented another key than the pinned one

Terraform pins one key per connection (`connection { host_key }`) and does not tell its
SSH client which key type to ask for, so the client negotiates by its own preference:
golang.org/x/crypto/ssh `preferredHostKeyAlgos` (v0.35.0, in Terraform 1.11) lists
ECDSA, then RSA, then Ed25519. Measured against an sshd holding all three with Terraform
1.11.4: pinning the Ed25519 or RSA key fails with "knownhosts: key mismatch", pinning the
ECDSA key connects. `terraform_choice` follows that order; OpenSSH instead asks for the
types it already knows for the host, so any pinned type works there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import subprocess
from dataclasses import dataclass, field

from installer import tools
from installer.errors import ToolError

LOG = logging.getLogger("kfstack.hostkeys")

# In the order Terraform's SSH client asks for them (see the module docstring).
KEY_TYPES = (
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "ssh-ed25519",
)
# What `ssh-keygen -lf` calls each type, for fingerprints people compare by eye.
_LABELS = {"ssh-rsa": "RSA", "ssh-ed25519": "ED25519"}
SCAN_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class HostKey:
    """One public host key: its type and base64 data (the comment is dropped)."""

    type: str
    data: str

    @property
    def line(self) -> str:
        """`type data`, the form Terraform's `host_key` and known_hosts take."""
        return f"{self.type} {self.data}"

    @property
    def label(self) -> str:
        return _LABELS.get(self.type, "ECDSA")

    @property
    def fingerprint(self) -> str:
        """SHA256:<unpadded base64 of the key blob's digest>, as `ssh-keygen -lf` prints."""
        digest = hashlib.sha256(base64.b64decode(self.data)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def describe(self) -> str:
        return f"{self.label} {self.fingerprint}"


def parse(text: str) -> HostKey:
    """Parse an OpenSSH public key line (`ssh-ed25519 AAAA... [comment]`).

    Raises:
        ValueError: not such a line; the message says what is wrong and how to get one.
    """
    fields = (text or "").split()
    where = "the line in the host's /etc/ssh/ssh_host_*_key.pub, or `kfstack hostkeys`"
    if not fields:
        raise ValueError(f"the host key is empty; give {where}")
    if fields[0].startswith("-----BEGIN"):
        raise ValueError(f"this is a private key; give the public host key: {where}")
    kind = fields[0]
    if kind not in KEY_TYPES:
        if len(fields) > 1 and fields[1] in KEY_TYPES:
            raise ValueError(f"this looks like a known_hosts line; drop the leading {fields[0]!r}")
        if kind == "ssh-dss":
            raise ValueError(
                "DSA host keys are insecure and OpenSSH no longer offers them; "
                "pin the host's ecdsa, ed25519 or rsa key"
            )
        raise ValueError(f"unknown key type {kind!r}; expected one of {', '.join(KEY_TYPES)}")
    if len(fields) < 2:
        raise ValueError(f"the key data after {kind!r} is missing")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key data is not base64 (cut short when copied?)") from None
    # The blob starts with its own type as an SSH string (RFC 4253 section 6.6).
    length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if blob[4 : 4 + length] != kind.encode() or len(blob) < 4 + length + 4:
        raise ValueError(f"the key data is not a {kind} key (cut short, or another key's data?)")
    return HostKey(kind, fields[1])


def terraform_choice(keys: list[HostKey]) -> HostKey | None:
    """The key Terraform's SSH client negotiates among those a host presents."""
    ranked = [key for key in keys if key.type in KEY_TYPES]
    return min(ranked, key=lambda key: KEY_TYPES.index(key.type), default=None)


def known_hosts_line(address: str, port: int, key: HostKey) -> str:
    host = address if port == 22 else f"[{address}]:{port}"
    return f"{host} {key.line}"


@dataclass
class ScanResult:
    address: str
    port: int
    keys: list[HostKey] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    error: str = ""


def scan(address: str, port: int, *, timeout: int = SCAN_TIMEOUT_SECONDS) -> ScanResult:
    """Every host key `address:port` presents, by `ssh-keyscan` (no login, nothing sent).

    A host that does not answer gives no keys and `error` says why.

    Raises:
        ToolMissingError: ssh-keyscan is not on PATH.
    """
    keyscan = tools.require("ssh-keyscan", purpose="reading the hosts' SSH host keys")
    command = [keyscan.path, "-T", str(timeout), "-p", str(port), address]
    result = ScanResult(address, port, command=command)
    try:
        proc = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout * 3 + 5,
            check=False,
        )
    except subprocess.TimeoutExpired:
        result.error = f"no answer within {timeout * 3 + 5}s"
        return result
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) < 3 or line.startswith("#"):
            continue
        try:
            key = parse(" ".join(fields[1:]))
        except ValueError:
            continue  # a type kfstack does not pin (sk-*, dss)
        if key not in result.keys:
            result.keys.append(key)
    result.keys.sort(key=lambda key: KEY_TYPES.index(key.type))
    if not result.keys:
        errors = [line for line in proc.stderr.splitlines() if not line.startswith("#")]
        result.error = errors[-1] if errors else f"no SSH server answered on port {port}"
    LOG.debug("ssh-keyscan %s:%s: %s", address, port, [k.describe() for k in result.keys])
    return result


class HostKeyMismatchError(ToolError):
    """A host presented another SSH host key than the spec pins (exit 1): the machine
    was reinstalled or its keys rotated, or something sits between kfstack and it."""

    def __init__(
        self,
        message: str,
        *,
        host: str,
        field: str,
        expected: str | None,
        presented: str | None = None,
        command: list[str] | None = None,
        exit_code: int | None = None,
        stderr_tail: str = "",
        hint: str | None = None,
    ) -> None:
        self.host = host
        self.field = field
        self.expected = expected
        self.presented = presented
        super().__init__(
            message, command=command, exit_code=exit_code, stderr_tail=stderr_tail, hint=hint
        )


def mismatch_hint(field: str, spec_hint: str) -> str:
    """The next action after a mismatch: check out of band, then change the pinned key."""
    return (
        "if the machine was reinstalled or its keys rotated, compare the new fingerprint "
        "with the machine's console (`ssh-keygen -lf /etc/ssh/ssh_host_ecdsa_key.pub`), "
        f"then put the new key in {field} ({spec_hint} shows it); otherwise something may "
        "be intercepting the connection: stop here"
    )


_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")


def presented_fingerprint(ssh_stderr: str) -> str | None:
    """The fingerprint OpenSSH printed for the key the host sent, if it printed one."""
    match = _FINGERPRINT.search(ssh_stderr or "")
    return match.group(0) if match else None
