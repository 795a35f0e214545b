"""Host keys without hosts: parsing and fingerprints against the real ssh-keygen, the key
Terraform would be shown, `add_host_keys` editing a spec in place, and `kfstack hostkeys`
where no host answers. The hosts themselves are in tests/test_baremetal_hosts.py.
"""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from installer import hostkeys
from installer.cli import cli
from installer.errors import UserError
from installer.spec import author, parse_spec

needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="no ssh-keygen")


def generated(tmp_path, kind: str) -> str:
    path = tmp_path / f"host_{kind}"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


@needs_ssh_keygen
@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_fingerprints_are_what_ssh_keygen_prints_for_the_same_key(tmp_path, kind):
    line = generated(tmp_path, kind)
    listed = subprocess.run(
        ["ssh-keygen", "-lf", str(tmp_path / f"host_{kind}.pub")],
        capture_output=True,
        text=True,
        check=True,
    )

    key = hostkeys.parse(line)

    assert key.fingerprint == listed.stdout.split()[1]
    assert listed.stdout.rstrip().endswith(f"({key.label})")
    assert key.line == " ".join(line.split()[:2])


@needs_ssh_keygen
def test_terraform_is_shown_the_ecdsa_key_then_rsa_then_ed25519(tmp_path):
    kinds = ("ed25519", "rsa", "ecdsa")
    keys = {kind: hostkeys.parse(generated(tmp_path, kind)) for kind in kinds}

    assert hostkeys.terraform_choice(list(keys.values())) == keys["ecdsa"]
    assert hostkeys.terraform_choice([keys["ed25519"], keys["rsa"]]) == keys["rsa"]
    assert hostkeys.terraform_choice([keys["ed25519"]]) == keys["ed25519"]
    assert hostkeys.terraform_choice([]) is None


KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBaDindwgluuYgk+"
    "JBx2S6Zzg3qTkXN91sCKzbm1POldil/pxjrDNbEeleKfngmrM8OwM8MiNJ3hxVlPs4JjNBs="
)
SPEC = """\
# our lab
name: lab
target: baremetal
baremetal:
  hosts:
    - {name: ctrl, address: 192.0.2.10, ssh_key: ~/.ssh/k, role: server}
    - name: cpu1   # first agent
      address: 192.0.2.11
      ssh_key: ~/.ssh/k  # shared
    - name: gpu1
      address: 192.0.2.12
      ssh_key: ~/.ssh/k
      labels:
        team: vision

    - name: cpu2
      address: 192.0.2.13
      ssh_key: ~/.ssh/k
      host_key: @KEY@
  nfs: {server: 192.0.2.20, path: /export}  # RWX
storage: {rwx: true}
"""


def test_add_host_keys_inserts_only_the_keys_and_keeps_every_other_line(tmp_path):
    path = tmp_path / "kfstack.yaml"
    original = SPEC.replace("@KEY@", KEY)
    path.write_text(original)
    path.chmod(0o640)

    text = author.add_host_keys(path, {0: KEY, 1: KEY, 2: KEY})

    assert path.read_text() == text
    # Taking the two block insertions (cpu1, gpu1 come before cpu2's own key) and the
    # flow one out gives back the file byte for byte.
    block = "\n      host_key: " + KEY
    assert text.replace(", host_key: " + KEY, "").replace(block, "", 2) == original
    assert "role: server, host_key: " + KEY + "}" in text
    assert "      ssh_key: ~/.ssh/k  # shared\n      host_key: " + KEY + "\n" in text
    assert "        team: vision\n      host_key: " + KEY + "\n" in text
    spec = parse_spec(text).spec
    assert [h.host_key for h in spec.baremetal.hosts] == [KEY] * 4
    assert path.stat().st_mode & 0o777 == 0o640


def test_add_host_keys_refuses_what_it_cannot_edit_and_writes_nothing(tmp_path):
    path = tmp_path / "kfstack.yaml"
    original = SPEC.replace("@KEY@", "null")
    path.write_text(original)

    with pytest.raises(UserError) as err:
        author.add_host_keys(path, {3: KEY})

    assert f"add them by hand: baremetal.hosts[3].host_key: {KEY}" in (err.value.hint or "")
    assert path.read_text() == original


def test_hostkeys_on_another_target_is_a_usage_error(tmp_path, examples):
    spec = tmp_path / "kfstack.yaml"
    spec.write_text((examples / "aws.yaml").read_text())

    result = CliRunner().invoke(cli, ["hostkeys", "-c", str(spec)])

    assert result.exit_code == 2
    assert "has target aws" in result.output


@pytest.mark.skipif(shutil.which("ssh-keyscan") is None, reason="no ssh-keyscan")
def test_hostkeys_reports_a_host_that_does_not_answer_and_writes_nothing(tmp_path):
    with socket.socket() as probe:  # an ephemeral port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = tmp_path / "kfstack.yaml"
    text = (
        "name: lab\ntarget: baremetal\nbaremetal:\n  hosts:\n"
        f"  - {{name: ctrl, address: 127.0.0.1, port: {port}, ssh_key: /k, role: server}}\n"
    )
    spec.write_text(text)

    result = CliRunner().invoke(cli, ["hostkeys", "-c", str(spec), "--write", "-o", "json"])

    assert result.exit_code == 1
    (host,) = yaml.safe_load(result.stdout)["hosts"]
    assert (host["name"], host["status"], host["keys"]) == ("ctrl", "unreachable", [])
    assert spec.read_text() == text
