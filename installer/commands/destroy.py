"""`kfstack destroy`: remove everything kfstack created for the spec."""

from __future__ import annotations

import click

from installer import infra
from installer.commands import common
from installer.commands.infra_views import confirmer, require_confirmation_possible
from installer.console import Run


@click.command("destroy")
@common.spec_option
@common.workdir_option
@click.option("--yes", "-y", is_flag=True, help="Destroy without asking for confirmation.")
@common.output_option
@common.debug_option
@common.kfstack_command("destroy", spec_logs=True)
def command(
    run: Run, config: str, workdir: str | None, yes: bool, output: str, debug: bool
) -> int:
    """Destroy the cluster, its node groups, storage and network.

    Asks first unless --yes is given; without a terminal, refuses (exit 2) unless --yes.
    """
    require_confirmation_possible(yes, "destroy")
    loaded, wd = common.load(run, config, workdir)
    confirm = confirmer(run, yes, f"Destroy {loaded.spec.full_name} and everything in it?")
    result = infra.destroy_infra(loaded.spec, wd, run.reporter, confirm)
    if output == "json":
        run.emit_json(result.to_dict())
    elif result.applied:
        run.echo(f"Destroyed {result.plan.destroy} resources of {loaded.spec.full_name}.")
    elif not result.plan.has_changes:
        run.echo("Nothing to destroy.")
    else:
        run.echo("Nothing destroyed: not confirmed.")
        return 1
    return 0
