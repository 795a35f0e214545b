"""`kfstack render`: the spec as reviewable files, before any cloud call.

    DIR/terraform/      the target stack's root configuration (stacks.for_spec(spec).write)
    DIR/platform/       the Kubeflow platform tree (installer.platform.render)
    DIR/kfstack.lock    every version and digest that went into the platform

With `--commit` (needs `gitops.enabled`), the three and the spec are then committed to
the gitops branch (installer.gitops.publish) and the commit's SHA is reported.

Values only the infrastructure knows stay pending (`((kfstack:infra.X))`) unless
`--infra-outputs` gives `terraform output -json`. Generated secret values are created
in the work directory (0600), never in DIR.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from installer import gitops as _gitops
from installer.commands import common
from installer.console import Run
from installer.errors import UserError
from installer.platform import render as _render
from installer.platform import sources as _sources
from installer.platform import tree as _tree
from installer.secrets import SecretStore
from installer.spec.model import SecretRef, Spec


def infra_for(spec: Spec, outputs_file: str | None) -> tuple[Any, Any]:
    """(stack or None, InfraOutputs): real outputs from a file, else the stack's pending ones.

    Raises:
        UserError: the outputs file is unreadable, or the target has no stack in this build.
    """
    import stacks
    from stacks.base import InfraOutputs

    try:
        stack = stacks.for_spec(spec)
    except ModuleNotFoundError as exc:
        raise UserError(
            f"target {spec.target}: this kfstack has no infrastructure stack for it yet "
            f"({exc.name} is missing)",
            hint="update kfstack, or use target: existing with a cluster you already have",
        ) from None
    if outputs_file:
        try:
            data = json.loads(Path(outputs_file).read_text())
        except (OSError, ValueError) as exc:
            raise UserError(
                f"--infra-outputs {outputs_file}: cannot read it as JSON ({exc})",
                hint="write it with `terraform output -json > FILE`",
            ) from None
        return stack, InfraOutputs.from_terraform(spec.target, data)
    return stack, stack.pending_outputs()


def materialize_secrets(root: Path, store: SecretStore, run: Run) -> dict[str, int]:
    """Create every generated secret the tree names; check referenced ones exist.

    A missing reference is a warning here (it is resolved at apply time, maybe on
    another machine), never an error.
    """
    counts = {"generated": 0, "referenced": 0}
    tree = _tree.PlatformTree.open(root)
    for comp in tree.components:
        for entry in tree.secret_specs(comp.name):
            for key, source in (entry.get("data") or {}).items():
                if "generated" in source:
                    store.generated(source["generated"], length=int(source.get("length", 32)))
                    counts["generated"] += 1
                elif "env" in source or "file" in source:
                    counts["referenced"] += 1
                    ref = SecretRef(env=source.get("env"), file=source.get("file"))
                    try:
                        store.resolve(ref, field=f"{comp.name}: {entry['name']}.{key}")
                    except UserError as exc:
                        run.reporter.warn(f"{exc.message} (needed at apply time)")
    return counts


@click.command("render")
@common.spec_option
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for terraform/, platform/ and kfstack.lock.",
)
@click.option(
    "--infra-outputs",
    type=click.Path(dir_okay=False),
    default=None,
    help="`terraform output -json` of the applied infrastructure (fills pending values).",
)
@click.option("--offline", is_flag=True, help="Never download; use local copies and the cache.")
@click.option(
    "--commit",
    "commit",
    is_flag=True,
    help="Commit the render to the gitops repository (gitops.enabled) and print the SHA.",
)
@common.workdir_option
@common.output_option
@common.debug_option
@common.kfstack_command("render", spec_logs=True)
def command(
    run: Run,
    config: str,
    out: str,
    infra_outputs: str | None,
    offline: bool,
    commit: bool,
    workdir: str | None,
    output: str,
    debug: bool,
) -> int:
    """Write the Terraform root and the Kubeflow platform tree for the spec.

    \b
    1. load the spec; 2. the stack's Terraform root; 3. the platform tree (sources,
    components, kustomize, validation); 4. generated secrets into the work directory;
    5. with --commit, the render committed to the gitops branch (pushed when asked).
    Nothing in DIR changes unless every step succeeds.
    """
    steps = 5 if commit else 4
    run.reporter.phase(1, steps, "spec")
    loaded, wd = common.load(run, config, workdir)
    spec = loaded.spec
    if commit and not spec.gitops.enabled:
        raise UserError(
            "--commit: gitops.enabled is false in the spec",
            hint="set gitops.enabled: true and gitops.repository, then render again",
        )
    stack, infra = infra_for(spec, infra_outputs)
    dest = Path(out)
    dest.mkdir(parents=True, exist_ok=True)

    run.reporter.phase(2, steps, f"terraform ({spec.target})")
    tf_staging = Path(tempfile.mkdtemp(prefix=".terraform-", dir=dest))
    try:
        stack.write(tf_staging)
        run.reporter.ok(f"terraform: {len(list(tf_staging.glob('*.tf.json')))} files")

        run.reporter.phase(3, steps, f"platform (Kubeflow {spec.kubeflow.version})")
        srcs = _render.sources_for(spec, offline=offline)
        result = _render.render(spec, infra, dest, run.reporter, srcs=srcs)
        _sources.replace_dir(tf_staging, dest / "terraform")
    finally:
        if tf_staging.exists():
            shutil.rmtree(tf_staging, ignore_errors=True)

    run.reporter.phase(4, steps, "secrets")
    store = SecretStore(wd.ensure().secrets, spec=spec)
    counts = materialize_secrets(dest / "platform", store, run)
    run.reporter.ok(
        f"{counts['generated']} generated value(s) kept in {wd.secrets}, "
        f"{counts['referenced']} referenced"
    )

    published = None
    if commit:
        run.reporter.phase(5, steps, "gitops")
        files = _gitops.render_files(dest, Path(config))
        published = _gitops.publish(spec, Path(config), files, wd, store, run.reporter)
        run.reporter.ok(published.line())

    summary = result.summary()
    summary["terraform"] = str(dest / "terraform")
    summary["workdir"] = str(wd.root)
    if published is not None:
        summary["gitops"] = published.to_dict()
    if output == "json":
        run.emit_json(summary)
    else:
        pending = ", ".join(result.pending) or "none"
        run.echo(
            f"✓ rendered {summary['objects']} objects in {len(result.components)} components "
            f"into {dest}/platform (pending: {pending})"
        )
        if published is not None:
            run.echo(f"✓ commit {published.commit} ({published.line()})")
    return 0
