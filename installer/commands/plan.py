"""`kfstack plan`: the plan view, and what apply would change, changing nothing."""

from __future__ import annotations

import sys

import click

from installer import infra, planview
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
    help="As terraform: exit 0 when there is nothing to change, 2 when there are changes, "
    "1 on any error (spec errors included).",
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
    """Show the plan: cluster, node pools, GPUs, storage, Kubeflow, hourly cost at minimum
    and maximum scale, and the Terraform changes (adds/changes/destroys by type)."""
    try:
        return _plan(run, config, workdir, detailed_exitcode, destroy, output)
    except UserError as exc:
        if not detailed_exitcode:
            raise
        # With --detailed-exitcode, 2 means "changes present"; every error is 1.
        raise KfstackError(exc.message, hint=exc.hint) from None


def _plan(
    run: Run,
    config: str,
    workdir: str | None,
    detailed_exitcode: bool,
    destroy: bool,
    output: str,
) -> int:
    loaded, wd = common.load(run, config, workdir)
    spec = loaded.spec
    summary = None
    if spec.target != "existing":
        summary = infra.plan_infra(spec, wd, run.reporter, destroy=destroy)
    view = planview.build(
        spec,
        tf_summary=planview.TerraformSummary.from_plan_summary(summary) if summary else None,
    )
    if output == "json":
        terraform = summary.to_dict() if summary else {"changes_present": False}
        run.emit_json({**terraform, "view": view.to_dict()})
    else:
        if not destroy:
            planview.render(view, stream=sys.stdout)
        if summary is not None:
            run.echo("")
            render_plan(run, summary)
    if detailed_exitcode and summary is not None and summary.has_changes:
        return EXIT_CHANGES
    return 0
