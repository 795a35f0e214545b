"""What `plan`, `apply` and `destroy` share: rendering a plan and asking before changes."""

from __future__ import annotations

import sys

import click

from installer.console import Run
from installer.errors import UserError
from installer.terraform import PlanSummary


def render_plan(run: Run, summary: PlanSummary) -> None:
    """The plan on stdout: the headline, then counts by resource type, then each change."""
    run.echo(f"Plan: {summary.headline()}")
    for rtype, counts in sorted(summary.by_type.items()):
        parts = [f"{n} to {kind}" for kind, n in counts.items() if n]
        run.echo(f"  {rtype}: {', '.join(parts)}")
    for change in summary.changes:
        run.echo(f"    {change['action']:>8}  {change['address']}")


def require_confirmation_possible(yes: bool, action: str) -> None:
    """Refuse up front, before anything runs, when no one can answer the question.

    Raises:
        UserError: stdin is not a terminal and --yes was not given.
    """
    if not yes and not sys.stdin.isatty():
        raise UserError(
            f"{action} changes infrastructure and asks for confirmation, "
            "but stdin is not a terminal",
            hint=f"pass --yes to {action} without asking",
        )


def confirmer(run: Run, yes: bool, question: str):
    """A `confirm(summary)` callback: shows the plan and asks (or agrees, with --yes)."""

    def confirm(summary: PlanSummary) -> bool:
        if yes:
            return True
        render_plan(run, summary)
        return click.confirm(question, default=False, err=True)

    return confirm
