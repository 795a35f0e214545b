"""`kfstack plan`: what apply would change in the infrastructure, changing nothing."""

from __future__ import annotations

import click

from installer import infra
from installer.commands import common
from installer.commands.infra_views import render_plan
from installer.console import Run
from installer.errors import KfstackError, UserError

EXIT_CHANGES = 2


@click.command("plan")
@common.spec_option
@common.workdir_option
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there is nothing to change, 2 when there are changes, 1 on error.",
)
@click.option("--destroy", is_flag=True, help="Plan the destruction instead.")
@common.output_option
@common.debug_option
@common.kfstack_command("plan", spec_logs=True)
def command(
    run: Run,
    config: str,
    workdir: str | None,
    detailed_exitcode: bool,
    destroy: bool,
    output: str,
    debug: bool,
) -> int:
    """Plan the infrastructure of the spec: resources to add, change and destroy."""
    try:
        loaded, wd = common.load(run, config, workdir)
        summary = infra.plan_infra(loaded.spec, wd, run.reporter, destroy=destroy)
    except UserError as exc:
        if not detailed_exitcode:
            raise
        # Exit 2 means "changes present" here, so every error, a person's included,
        # exits 1 as terraform's -detailed-exitcode does.
        raise KfstackError(exc.message, hint=exc.hint) from exc
    if output == "json":
        run.emit_json(summary.to_dict())
    else:
        render_plan(run, summary)
    if detailed_exitcode and summary.has_changes:
        return EXIT_CHANGES
    return 0
