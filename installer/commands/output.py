"""`kfstack output`: the infrastructure outputs the platform layer reads."""

from __future__ import annotations

import click

from installer import infra
from installer.commands import common
from installer.console import Run


@click.command("output")
@common.spec_option
@common.workdir_option
@common.output_option
@common.debug_option
@common.kfstack_command("output", spec_logs=True)
def command(run: Run, config: str, workdir: str | None, output: str, debug: bool) -> int:
    """Print the outputs of the last apply (cluster, endpoint, pools, storage ids)."""
    loaded, wd = common.load(run, config, workdir)
    values = infra.outputs(loaded.spec, wd, run.reporter)
    data = values.model_dump(mode="json")
    if output == "json":
        run.emit_json(data)
        return 0
    for key, value in data.items():
        if key == "gpu_pools":
            for pool in values.gpu_pools:
                run.echo(f"gpu_pool {pool.name}: {pool.gpu_count} x {pool.gpu_model}")
        elif key != "ca_data":
            run.echo(f"{key}: {value}")
    return 0
