"""`kfstack doctor`: is this machine ready to run kfstack for a spec? Offline."""

from __future__ import annotations

import click

from installer import doctor
from installer.commands import common
from installer.console import FAIL, OK, SKIP, Run


@click.command("doctor")
@click.option(
    "-c",
    "--config",
    "config",
    default=None,
    type=click.Path(dir_okay=False),
    help="The platform spec; without it, the checks for any target.",
)
@common.output_option
@common.debug_option
@common.kfstack_command("doctor")
def command(run: Run, config: str | None, output: str, debug: bool) -> int:
    """Check the binaries, versions and cloud credentials kfstack needs. No network.

    Exit code 0 when everything the spec's target needs is present, 1 when something
    required is missing, 2 when the spec is invalid.
    """
    # Hosts without keys are one of doctor's findings, not a reason to stop.
    spec = common.load(run, config, require_host_keys=False)[0].spec if config else None
    found = doctor.checks(spec)
    failed = doctor.problems(found)
    if output == "json":
        run.emit_json(
            {
                "ok": not failed,
                "target": spec.target if spec else None,
                "checks": [c.as_dict() for c in found],
            }
        )
    else:
        run.echo(_table(found))
        if failed:
            run.echo(f"\n{FAIL} missing: " + ", ".join(c.name for c in failed))
        else:
            scope = f"target {spec.target}" if spec else "kfstack"
            run.echo(f"\n{OK} ready for {scope}")
    for check in failed:
        run.reporter.fail(f"{check.name}: {check.detail} → {check.fix}")
    return 1 if failed else 0


def _table(found: list[doctor.Check]) -> str:
    rows = [("", "CHECK", "NEEDED", "DETAIL", "FIX")]
    rows += [
        (
            OK if c.ok else FAIL if c.required else SKIP,
            c.name,
            "yes" if c.required else "no",
            c.detail,
            c.fix,
        )
        for c in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:4])] + [row[4]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
