"""The `kfstack` command line: the group and the registration of every command.

Each command lives in `installer/commands/<name>.py`. Exceptions become messages and
exit codes in one place, `installer.commands.common.kfstack_command`:
0 ok, 1 the operation failed, 2 a usage or spec error (a person can fix it),
130 interrupted. `plan --detailed-exitcode` adds 2 for "changes present".
"""

from __future__ import annotations

import importlib
import sys

import click

from installer import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="kfstack")
@click.option("--debug", is_flag=True, help="Show tracebacks for every command.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """kfstack: one spec to a working, GPU-ready Kubeflow platform.

    \b
    Start with:  kfstack init            (writes kfstack.yaml)
                 kfstack validate        (checks it, offline)
    """
    ctx.obj = {"debug": debug}


# One line per command module (installer/commands/<name>.py), in the order of --help.
COMMANDS = (
    "init",
    "validate",
    "doctor",
    "hostkeys",
    "catalog",
    "schema",
    "plan",
    "apply",
    "destroy",
    "output",
    "render",
    "images",
    "up",
    "kubeconfig",
    "render",
    "images",
    "verify",
    "eks_token",
)
for _name in COMMANDS:
    cli.add_command(importlib.import_module(f"installer.commands.{_name}").command)


def main() -> None:
    try:
        cli.main(prog_name="kfstack", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - outside any command body
        sys.stderr.write("Error: interrupted\n")
        sys.exit(130)
