"""`kfstack images`: every container image the platform runs, for mirroring.

Renders the platform (from the cache when nothing changed) into a temporary directory
and lists the images of every component, as upstream names them and, with
`kubeflow.registry.mirror`, the name kfstack rewrote each one to.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from installer.commands import common
from installer.console import Run
from installer.platform import postrender as _post
from installer.platform import render as _render
from stacks.base import InfraOutputs


@click.command("images")
@common.spec_option
@click.option("--offline", is_flag=True, help="Never download; use local copies and the cache.")
@common.output_option
@common.debug_option
@common.kfstack_command("images", spec_logs=True)
def command(run: Run, config: str, offline: bool, output: str, debug: bool) -> int:
    """List every image of the rendered platform (one per line, sorted)."""
    loaded, _ = common.load(run, config)
    spec = loaded.spec
    # Images do not depend on infrastructure outputs, so no stack is needed here.
    infra = InfraOutputs(target=spec.target, load_balancer=spec.target != "baremetal")
    with tempfile.TemporaryDirectory(prefix="kfstack-images-") as tmp:
        srcs = _render.sources_for(spec, offline=offline)
        result = _render.render(spec, infra, Path(tmp), run.reporter, srcs=srcs)
    mirror = spec.kubeflow.registry.mirror if spec.kubeflow.registry else None
    images = result.images()
    if output == "json":
        run.emit_json(
            {
                "images": [
                    {"source": img, "mirror": _post.mirror_name(img, mirror) if mirror else None}
                    for img in images
                ],
                "by_component": {c.name: c.images for c in result.components},
            }
        )
    else:
        for img in images:
            run.echo(f"{img} -> {_post.mirror_name(img, mirror)}" if mirror else img)
    return 0
