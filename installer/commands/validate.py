"""`kfstack validate`: check a spec offline, instantly."""

from __future__ import annotations

import click

from installer.commands import common
from installer.console import Run
from installer.errors import SpecError


@click.command("validate")
@common.spec_option
@common.output_option
@common.debug_option
@common.kfstack_command("validate", spec_logs=True)
def command(run: Run, config: str, output: str, debug: bool) -> int:
    """Check the spec: types, unknown keys, and cross-field rules against the catalog.

    No cloud is contacted. Exit code 0 when valid, 2 when not.
    """
    try:
        loaded, _ = common.load(run, config)
    except SpecError as exc:
        if output == "json":
            # CI reads the problems from stdout; the boundary still prints them on stderr.
            run.emit_json(
                {
                    "valid": False,
                    "spec": config,
                    "problems": [
                        {"path": p.path, "message": p.message, "hint": p.hint}
                        for p in exc.problems
                    ],
                }
            )
        raise
    spec = loaded.spec
    if output == "json":
        run.emit_json(
            {
                "valid": True,
                "spec": config,
                "target": spec.target,
                "warnings": [w.render() for w in loaded.warnings],
                "resolved": spec.model_dump(mode="json", exclude_none=True),
            }
        )
    else:
        pools = ", ".join(
            f"{p.name} ({p.instance_type}{f', {p.gpu.count}x{p.gpu.model}' if p.gpu else ''})"
            for p in spec.node_pools
        )
        run.echo(
            f"✓ {config} is valid: {spec.full_name} on {spec.target}"
            + (f", pools: {pools}" if pools else "")
        )
    return 0
