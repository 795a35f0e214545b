"""`kfstack hostkeys`: read the SSH host keys of the spec's bare-metal hosts, to pin them.

Each host is read with `ssh-keyscan` (no login, nothing sent to it). Every key it
presents is printed with its SHA256 fingerprint, for comparison with the value read on
the machine's console (`ssh-keygen -lf /etc/ssh/ssh_host_ecdsa_key.pub`); the key
Terraform's SSH client will ask for (`installer.hostkeys.terraform_choice`) is the one
to pin. `--write` adds that key as `host_key` to every host that has none, editing the
spec in place (`installer.spec.author.add_host_keys`). A host whose pinned key differs
from what it presents is reported and never overwritten: a changed key needs a person.

Exit code 0 when every host answered and none differs from its pinned key, 1 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from installer import hostkeys
from installer.commands import common
from installer.console import FAIL, OK, SKIP, Run
from installer.errors import UserError
from installer.spec import author
from installer.spec.model import BaremetalHost


@dataclass
class HostReport:
    index: int
    host: BaremetalHost
    scan: hostkeys.ScanResult
    chosen: hostkeys.HostKey | None
    pinned: hostkeys.HostKey | None

    @property
    def status(self) -> str:
        """pinned, unpinned, wrong-type (a key of the host, not the one Terraform asks
        for), mismatch (not a key of the host) or unreachable."""
        if self.chosen is None:
            return "unreachable"
        if self.pinned is None:
            return "unpinned"
        if self.pinned == self.chosen:
            return "pinned"
        return "wrong-type" if self.pinned in self.scan.keys else "mismatch"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.host.name,
            "address": self.host.address,
            "port": self.host.port,
            "status": self.status,
            "keys": [
                {"type": k.type, "fingerprint": k.fingerprint, "key": k.line}
                for k in self.scan.keys
            ],
            "terraform_key": self.chosen.line if self.chosen else None,
            "pinned": self.pinned.line if self.pinned else None,
            "error": self.scan.error or None,
        }


@click.command("hostkeys")
@common.spec_option
@click.option(
    "--write",
    is_flag=True,
    help="Add the key Terraform asks for as host_key to every host without one.",
)
@common.output_option
@common.debug_option
@common.kfstack_command("hostkeys", spec_logs=True)
def command(run: Run, config: str, write: bool, output: str, debug: bool) -> int:
    """Show the SSH host keys of the bare-metal hosts and their fingerprints.

    Compare each fingerprint with the one on the machine's console before pinning it.

    \b
    Examples:
      kfstack hostkeys -c kfstack.yaml
      kfstack hostkeys -c kfstack.yaml --write
    """
    loaded, _ = common.load(run, config, require_host_keys=False)
    spec = loaded.spec
    if spec.baremetal is None:
        raise UserError(
            f"hostkeys reads the SSH keys of bare-metal hosts; {config} has target {spec.target}",
            hint="run it with a spec whose target is baremetal",
        )
    reports = []
    for index, host in enumerate(spec.baremetal.hosts):
        run.reporter.progress("reading host keys", index, len(spec.baremetal.hosts), host.name)
        found = hostkeys.scan(host.address, host.port)
        pinned = hostkeys.parse(host.host_key) if host.host_key else None
        reports.append(
            HostReport(index, host, found, hostkeys.terraform_choice(found.keys), pinned)
        )
    to_write = {r.index: r.chosen.line for r in reports if r.status == "unpinned" and r.chosen}
    written: list[str] = []
    if write and to_write:
        author.add_host_keys(Path(config), to_write)
        written = [r.host.name for r in reports if r.index in to_write]
    failed = [r for r in reports if r.status in ("unreachable", "mismatch", "wrong-type")]
    if output == "json":
        run.emit_json(
            {"spec": config, "hosts": [r.to_dict() for r in reports], "written": written}
        )
    else:
        for report in reports:
            run.echo(_describe(report, written))
        run.echo(_next_step(config, reports, write, written))
    return 1 if failed else 0


_STATUS = {
    "pinned": f"{OK} pinned in the spec",
    "unpinned": f"{SKIP} not pinned",
    "wrong-type": f"{FAIL} the spec pins another of its keys; Terraform asks for this one",
    "mismatch": f"{FAIL} DIFFERS from the pinned key",
    "unreachable": f"{FAIL} no answer",
}


def _describe(report: HostReport, written: list[str]) -> str:
    host = report.host
    status = _STATUS[report.status]
    if host.name in written:
        status = f"{OK} written to the spec"
    lines = [f"{host.name}  {host.address}:{host.port}  {status}"]
    if report.status == "unreachable":
        lines.append(f"    {report.scan.error}")
    for key in report.scan.keys:
        mark = "  ← Terraform asks for this one" if key == report.chosen else ""
        lines.append(f"    {key.label:<8} {key.fingerprint}{mark}")
    if report.status == "mismatch" and report.pinned is not None:
        lines.append(f"    pinned:  {report.pinned.describe()}")
    return "\n".join(lines)


def _next_step(config: str, reports: list[HostReport], write: bool, written: list[str]) -> str:
    statuses = {r.status for r in reports}
    lines = [""]
    if written:
        lines.append(f"{OK} host_key written for {', '.join(written)} in {config}")
    elif "unpinned" in statuses and not write:
        lines.append(
            "Compare each marked fingerprint with the machine's console "
            "(`ssh-keygen -lf /etc/ssh/ssh_host_ecdsa_key.pub`, or the type shown), then "
            f"pin them: kfstack hostkeys -c {config} --write"
        )
    if statuses & {"mismatch", "wrong-type"}:
        lines.append(
            f"{FAIL} a host presents another key than its host_key: if the machine was "
            "reinstalled, check the new fingerprint on its console and replace its host_key "
            "by hand; otherwise something may be intercepting the connection"
        )
    if "unreachable" in statuses:
        lines.append(f"{FAIL} some hosts did not answer: check their address and port")
    if statuses == {"pinned"}:
        lines.append(f"{OK} every host presents its pinned key")
    return "\n".join(lines)
