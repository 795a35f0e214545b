"""`kfstack apply`: make the infrastructure, then the platform, match the spec.

The platform step applies the rendered tree (`<workdir>/platform`, from `kfstack
render`) with the install engine; `--only infra|platform` runs one layer.

`--from-git REF` applies the platform tree exactly as committed at REF on the gitops
branch (installer.gitops.checkout), not a fresh render and not the work directory's
tree: the platform layer only, so a deployment can be repeated from its commit alone.
"""

from __future__ import annotations

from pathlib import Path

import click

from installer import engine, infra, kube
from installer import gitops as _gitops
from installer.commands import common
from installer.commands.infra_views import confirmer, render_plan, require_confirmation_possible
from installer.commands.verify import kubeconfig_for
from installer.console import Run
from installer.errors import KfstackError, UserError
from installer.platform.tree import INDEX, PlatformTree
from installer.secrets import SecretStore


@click.command("apply")
@common.spec_option
@common.workdir_option
@click.option("--yes", "-y", is_flag=True, help="Apply without asking for confirmation.")
@click.option(
    "--only",
    type=click.Choice(["infra", "platform"]),
    default=None,
    help="Apply only this layer.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 16),
    default=4,
    show_default=True,
    help="Platform apply parallelism: up to 2 x N object requests in flight.",
)
@click.option(
    "--from-git",
    "from_git",
    metavar="REF",
    default=None,
    help="Apply the platform tree as committed at REF (SHA, branch or tag) on the gitops "
    "branch, instead of the work directory's render. Platform layer only.",
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
    concurrency: int,
    from_git: str | None,
    output: str,
    debug: bool,
) -> int:
    """Plan, show the changes, ask, and apply them; then print the outputs.

    Asks before changing anything unless --yes is given; without a terminal to ask
    on, refuses (exit 2) unless --yes is given.
    """
    loaded, wd = common.load(run, config, workdir)
    if from_git is not None:
        return _apply_from_git(run, loaded.spec, Path(config), wd, from_git, only, concurrency)
    outputs = None
    infra_json: dict | None = None
    if only != "platform":
        require_confirmation_possible(yes, "apply")
        confirm = None if yes else confirmer(run, yes, "Apply these changes?")
        result = infra.apply_infra(loaded.spec, wd, run.reporter, confirm)
        if not result.applied and result.plan.has_changes:
            if output == "json":
                run.emit_json(result.to_dict())
            else:
                run.echo("Nothing changed: the plan was not confirmed.")
            return 1
        if yes and result.applied and output != "json":
            render_plan(run, result.plan)
        outputs = result.outputs
        if outputs is not None and output != "json":
            run.echo(f"Cluster {outputs.cluster_name} in {outputs.region}")
            run.echo(f"  endpoint: {outputs.endpoint}")
            run.echo(f"  pools: {', '.join(outputs.node_pools)}")
        infra_json = result.to_dict()
        if only == "infra":
            if output == "json":
                run.emit_json(infra_json)
            return 0
    if only is None and not (wd.platform / INDEX).exists():
        run.reporter.warn(
            f"no rendered platform in {wd.platform}; skipping the platform step "
            "(run `kfstack render`, then `kfstack apply --only platform`)"
        )
        if output == "json" and infra_json is not None:
            run.emit_json(infra_json)
        return 0
    platform = _apply_platform(run, loaded.spec, wd, outputs, concurrency)
    if output == "json":
        run.emit_json({**(infra_json or {}), "platform": platform.to_dict()})
    else:
        run.echo(platform.table())
    _require_converged(platform, "kfstack apply --only platform")
    return 0


def _apply_from_git(run, spec, spec_path, wd, ref, only, concurrency) -> int:  # noqa: ANN001
    """Apply the platform tree committed at `ref`; report the commit it came from.

    Raises:
        UserError: --only infra with --from-git, or the commit has no such tree.
        KfstackError: the platform did not converge.
    """
    if only == "infra":
        raise UserError(
            "--from-git applies the platform layer only; it cannot go with --only infra",
            hint="drop --only infra, or drop --from-git to apply the infrastructure",
        )
    if not spec.gitops.enabled:
        raise UserError(
            f"--from-git {ref}: gitops.enabled is false in the spec",
            hint="set gitops.enabled: true and gitops.repository to the repository "
            "`kfstack render --commit` wrote to",
        )
    got = _gitops.checkout(spec, spec_path, wd, ref, run.reporter)
    platform = _apply_platform(run, spec, wd, None, concurrency, root=got.platform)
    if run.output == "json":
        run.emit_json({"commit": got.commit, "platform": platform.to_dict()})
    else:
        run.echo(platform.table())
        run.echo(f"applied the platform as committed in {got.commit}")
    _require_converged(platform, f"kfstack apply --from-git {got.commit}")
    return 0


def _require_converged(platform: engine.ApplyResult, again: str) -> None:
    if not platform.ok:
        failed = "; ".join(f"{c.name}: {c.error}" for c in platform.failures())
        raise KfstackError(
            f"the platform did not converge: {failed}",
            hint=f"fix the object named above, then run `{again}` "
            "again (converged components are skipped)",
        )


def _apply_platform(  # noqa: ANN001
    run, spec, wd, outputs, concurrency: int, *, root: Path | None = None
) -> engine.ApplyResult:
    """Apply a rendered tree (the work directory's, or `root`) to the cluster.

    Raises:
        UserError: no rendered tree, no kubeconfig, or a pending value still unknown.
        KfstackError: infrastructure outputs needed but unreadable.
    """
    tree = PlatformTree.open(root or wd.platform)
    infra_values: dict = {}
    if any(c.pending for c in tree.components):
        outputs = outputs or infra.outputs(spec, wd, run.reporter)
        infra_values = outputs.model_dump()
    client = kube.connect(kubeconfig_for(spec, wd, None), context=_context(spec))
    run.reporter.line(f"applying platform {tree.platform} ({len(tree.components)} components)")
    return engine.apply_platform(
        tree,
        client,
        infra=infra_values,
        store=SecretStore(wd.secrets, spec=spec),
        reporter=run.reporter,
        concurrency=concurrency,
    )


def _context(spec) -> str | None:  # noqa: ANN001
    existing = getattr(spec, "existing", None)
    return getattr(existing, "context", None) if existing is not None else None
