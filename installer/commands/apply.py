"""`kfstack apply`: make the infrastructure match the spec."""

from __future__ import annotations

import click

from installer import infra
from installer.commands import common
from installer.commands.infra_views import confirmer, render_plan, require_confirmation_possible
from installer.console import Run


@click.command("apply")
@common.spec_option
@common.workdir_option
@click.option("--yes", "-y", is_flag=True, help="Apply without asking for confirmation.")
@click.option(
    "--only",
    type=click.Choice(["infra"]),
    default=None,
    help="Apply only this layer (the platform layer comes with a later release).",
)
@common.output_option
@common.debug_option
@common.kfstack_command("apply", spec_logs=True)
def command(
    run: Run,
    config: str,
    workdir: str | None,
    yes: bool,
    only: str | None,
    output: str,
    debug: bool,
) -> int:
    """Plan, show the changes, ask, and apply them; then print the outputs.

    Asks before changing anything unless --yes is given; without a terminal to ask
    on, refuses (exit 2) unless --yes is given.
    """
    require_confirmation_possible(yes, "apply")
    loaded, wd = common.load(run, config, workdir)
    confirm = None if yes else confirmer(run, yes, "Apply these changes?")
    result = infra.apply_infra(loaded.spec, wd, run.reporter, confirm)
    if output == "json":
        run.emit_json(result.to_dict())
        return 0 if result.applied or not result.plan.has_changes else 1
    if not result.applied and result.plan.has_changes:
        run.echo("Nothing changed: the plan was not confirmed.")
        return 1
    if yes and result.applied:
        render_plan(run, result.plan)
    if result.outputs is not None:
        run.echo(f"Cluster {result.outputs.cluster_name} in {result.outputs.region}")
        run.echo(f"  endpoint: {result.outputs.endpoint}")
        run.echo(f"  pools: {', '.join(result.outputs.node_pools)}")
    return 0
