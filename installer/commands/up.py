"""`kfstack up`: validate, show the plan, confirm, provision, install, verify."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from installer import planview
from installer import up as _up
from installer.commands import common
from installer.commands.infra_views import require_confirmation_possible
from installer.console import Run


@click.command("up")
@common.spec_option
@common.workdir_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask before changing anything.")
@click.option(
    "--sandbox",
    is_flag=True,
    help="Run everything on this machine: a local AWS API emulator and a simulated "
    "Kubernetes API. Nothing real is created.",
)
@click.option("--skip-verify", is_flag=True, help="Do not run the verification checks.")
@common.output_option
@common.debug_option
@common.kfstack_command("up", spec_logs=True)
def command(
    run: Run,
    config: str,
    workdir: str | None,
    yes: bool,
    sandbox: bool,
    skip_verify: bool,
    output: str,
    debug: bool,
) -> int:
    """From the spec to a verified platform, in one command.

    \b
    1 render  2 plan  3 confirm  4 infrastructure  5 kubeconfig  6 platform  7 verify
    Every phase is resumable: after a failure or Ctrl-C, run the same command again.
    """
    reporter = run.reporter
    if sandbox:
        from installer.sandbox import environment as _sandbox

        if output == "text":
            run.echo(_sandbox.BANNER)
        reporter.warn(_sandbox.BANNER)
    require_confirmation_possible(yes, "up")
    loaded, wd = common.load(run, config, workdir)
    spec = loaded.spec
    env = None
    if sandbox:
        _up.require_sandbox_target(spec)
        spec = _sandbox.prepare_spec(spec, reporter)
        wd = _sandbox.sandbox_workdir(spec, Path(config), workdir)
        env = _sandbox.environment(spec, wd, reporter)

    def show(plan: planview.Plan) -> None:
        if output == "text":
            planview.render(plan, stream=sys.stdout)

    def confirm(plan: planview.Plan) -> bool:
        return yes or click.confirm("Build this platform?", default=False, err=True)

    options = _up.UpOptions(
        confirm=confirm,
        show_plan=show,
        verify=not skip_verify,
        spec_path=Path(config),
        yes=yes,
    )
    try:
        result = _up.up(spec, wd, reporter, env=env, options=options)
    finally:
        if sandbox:
            reporter.warn(f"{_sandbox.BANNER}; {_sandbox.NOT_RUN}")
    if output == "json":
        notice = {"notice": f"{_sandbox.BANNER}; {_sandbox.NOT_RUN}"} if sandbox else {}
        run.emit_json({**notice, **result.to_dict(), "log": str(run.log_path)})
    else:
        _summary(run, result)
        if sandbox:
            run.echo(f"{_sandbox.BANNER}; {_sandbox.NOT_RUN}")
    if not result.confirmed:
        return 1
    return 0 if result.ok else 1


def _summary(run: Run, result: _up.UpResult) -> None:
    if not result.confirmed:
        run.echo("Nothing changed: the plan was not confirmed.")
        return
    run.echo("")
    run.echo(
        f"Platform {result.platform} on {result.target}" + (" (sandbox)" if result.sandbox else "")
    )
    if result.access is None:
        run.echo(f"  dashboard:  {result.dashboard}")
    for label, text in result.access.lines() if result.access else []:
        run.echo(f"  {label + ':':<12}{text}")
    sign_in = result.sign_in or {}
    if sign_in.get("admin"):
        run.echo(
            f"  sign in:    {sign_in['admin']}; the password is in {sign_in['password_file']}"
            " (never printed)"
        )
    if sign_in.get("connectors"):
        run.echo(f"  connectors: {', '.join(sign_in['connectors'])}")
    run.echo(f"  kubeconfig: {result.kubeconfig}")
    if result.gitops:
        run.echo(
            f"  commit:     {result.gitops['commit']} "
            f"({result.gitops['repository']} {result.gitops['branch']}:{result.gitops['path']})"
        )
    run.echo(f"  log:        {run.log_path}")
    run.echo("  phases:")
    for phase in result.phases:
        name, state = phase["name"], phase["state"]
        run.echo(f"    {phase['number']}. {name:<16} {state:<8} {phase['seconds']:>7.1f}s")
