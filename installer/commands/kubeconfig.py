"""`kfstack kubeconfig`: write the cluster's kubeconfig into the work directory.

The target's stack does the work (`Stack.write_kubeconfig`): EKS through boto3, GKE
through google-cloud-container, AKS through the AKS management API, bare metal from the
server, an existing cluster from the user's own file and context. The file is written
0600 to `<workdir>/kubeconfig` and never merged into `~/.kube/config`; `verify` and the
install engine read it from there.
"""

from __future__ import annotations

import click

import stacks
from installer import infra
from installer.commands import common
from installer.console import Run
from installer.errors import UserError


@click.command("kubeconfig")
@common.spec_option
@common.workdir_option
@click.option("--admin", is_flag=True, help="AKS only: the cluster's admin credentials.")
@common.output_option
@common.debug_option
@common.kfstack_command("kubeconfig", spec_logs=True)
def command(
    run: Run, config: str, workdir: str | None, admin: bool, output: str, debug: bool
) -> int:
    """Write the cluster's kubeconfig (0600) to the work directory and print its path."""
    loaded, wd = common.load(run, config, workdir)
    spec = loaded.spec
    if admin and spec.target != "azure":
        raise UserError(
            f"--admin applies to AKS clusters only, not to {spec.target}",
            hint="run the command without --admin",
        )
    stack = stacks.for_spec(spec)
    # An existing cluster has no Terraform state: its outputs are known from the spec.
    if spec.target == "existing":
        outputs = stack.pending_outputs()
    else:
        outputs = infra.outputs(spec, wd, run.reporter)
    wd.ensure()
    extra = {"admin": True} if admin else {}
    path = stack.write_kubeconfig(outputs, wd.kubeconfig, **extra)
    if output == "json":
        run.emit_json({"kubeconfig": str(path)})
    else:
        run.echo(f"kubeconfig for {spec.full_name}: {path}")
        run.echo(f"  use it with: KUBECONFIG={path} kubectl get nodes")
    return common.EXIT_OK
