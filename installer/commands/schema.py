"""`kfstack schema`: print the spec's JSON Schema for editors."""

from __future__ import annotations

import json

import click

from installer.commands import common
from installer.console import Run
from installer.spec import json_schema


@click.command("schema")
@common.debug_option
@common.kfstack_command("schema")
def command(run: Run, debug: bool) -> int:
    """Print the JSON Schema of kfstack.yaml on stdout.

    \b
    Editors complete the spec with it, e.g. in VS Code's YAML extension:
      kfstack schema > kfstack.schema.json
      # yaml-language-server: $schema=./kfstack.schema.json
    """
    run.echo(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0
