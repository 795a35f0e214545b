"""The infrastructure layer as library functions: plan, apply, destroy and read outputs.

Target-agnostic: `stacks.for_spec(spec)` supplies the Terraform root configuration
and the target's hooks; this module drives the runner. Commands (`kfstack plan`,
`apply`, `destroy`, `output`) and `kfstack up` call these and render the results.

Every operation runs the same numbered steps, shown as phases on the reporter:

    1. check access      the target's credentials (`Stack.check_access`)
    2. prepare state     the remote state store, when `state.create` asks for it
    3. write + init      the root configuration into `<workdir>/terraform`, then
                         `terraform init` (skipped when providers/modules/backend are unchanged)
    4. plan              a saved plan and its summary
    5. apply             only when `confirm(summary)` agrees (and there are changes);
                         `Stack.check_before_apply` first (bare metal: the hosts' keys),
                         and a failure the stack knows becomes its clearer error
                         (`Stack.explain_failure`); before a destroy,
                         `Stack.destroy_prepare` lifts guards such as GKE's
                         deletion_protection with a targeted apply, then re-plans
    6. outputs           `terraform output -json` → `InfraOutputs`, and the stack's
                         kubeconfig written (0600) to `<workdir>/kubeconfig`

The configuration, `.terraform.lock.hcl` and local state stay in the work directory,
so a later plan reproduces the same provider versions.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stacks
from installer.console import Reporter
from installer.errors import KfstackError, ToolError
from installer.hostkeys import HostKeyMismatchError
from installer.secrets import SecretStore
from installer.spec.model import Spec
from installer.terraform import PlanSummary, Terraform
from installer.workdir import Workdir
from stacks.base import InfraOutputs, Stack

LOG = logging.getLogger("kfstack.infra")

STEPS = 6
Confirm = Callable[[PlanSummary], bool]


@dataclass
class InfraResult:
    """What an infra operation did: the plan it made and, after apply, the outputs."""

    plan: PlanSummary
    applied: bool
    outputs: InfraOutputs | None = None
    kubeconfig: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_dict(),
            "applied": self.applied,
            "outputs": self.outputs.model_dump(mode="json") if self.outputs else None,
            "kubeconfig": str(self.kubeconfig) if self.kubeconfig else None,
        }


def _prepare(spec: Spec, workdir: Workdir, reporter: Reporter) -> tuple[Stack, Terraform]:
    stack = stacks.for_spec(spec)
    runner = Terraform.for_spec(spec, workdir.terraform, reporter)

    reporter.phase(1, STEPS, f"checking access to {spec.target}")
    stack.check_access()

    reporter.phase(2, STEPS, "preparing the state store")
    stack.prepare_state(reporter)

    reporter.phase(3, STEPS, f"writing the configuration and running {runner.name} init")
    workdir.ensure()
    # Sensitive inputs reach terraform only through its environment (and are masked).
    secrets = stack.secret_variables(SecretStore(workdir.secrets))
    runner.extra_env.update({f"TF_VAR_{name}": value for name, value in secrets.items()})
    stack.write(workdir.terraform)
    if runner.init():
        reporter.ok(f"{runner.name} init")
    return stack, runner


@contextlib.contextmanager
def _applying(stack: Stack) -> Iterator[None]:
    """Run the stack's last checks, then the apply in the body; a Terraform failure the
    stack can explain leaves as the stack's error."""
    stack.check_before_apply()
    try:
        yield
    except ToolError as exc:
        explained = stack.explain_failure(exc)
        if explained is exc:
            raise
        raise explained from exc


def plan_infra(
    spec: Spec, workdir: Workdir, reporter: Reporter, *, destroy: bool = False
) -> PlanSummary:
    """Plan the infrastructure (or its destruction) and summarise the plan.

    Raises:
        ToolMissingError: terraform/tofu missing or outside `engine.version`.
        CredentialsError: the target's credentials are missing or rejected.
        StateLockedError: another run holds the state lock.
        ToolError: init or plan failed.
    """
    _, runner = _prepare(spec, workdir, reporter)
    reporter.phase(4, STEPS, "planning the destruction" if destroy else "planning")
    summary = runner.plan(destroy=destroy, show=True)
    reporter.ok(f"plan: {summary.headline()}")
    return summary


def apply_infra(
    spec: Spec, workdir: Workdir, reporter: Reporter, confirm: Confirm | None = None
) -> InfraResult:
    """Plan, ask `confirm(summary)` when there are changes, apply, and read the outputs.

    With `confirm`, a saved plan is shown to it and exactly that plan is applied.
    Without it (nobody reviews: `--yes`, `up`), plan and apply run as one terraform
    apply. Returns `applied=False` when `confirm` declined; nothing has changed then.

    Raises:
        ToolMissingError, CredentialsError, StateLockedError, ToolError: as `plan_infra`,
            and ToolError when a resource fails to apply.
        Interrupted: Ctrl-C during apply (terraform stopped gracefully first).
    """
    stack, runner = _prepare(spec, workdir, reporter)
    if confirm is None:
        # Nobody reviews the plan: plan and apply in one terraform run.
        reporter.phase(4, STEPS, "planning")
        reporter.phase(5, STEPS, "applying")
        with _applying(stack):
            summary = runner.apply_auto()
        applied = summary.has_changes
        reporter.ok(f"applied: {summary.headline()}")
    else:
        reporter.phase(4, STEPS, "planning")
        summary = runner.plan()
        reporter.ok(f"plan: {summary.headline()}")
        applied = False
        if summary.has_changes:
            if not confirm(summary):
                return InfraResult(plan=summary, applied=False)
            reporter.phase(5, STEPS, f"applying ({summary.headline()})")
            with _applying(stack):
                runner.apply(summary)
            applied = True
            reporter.ok("applied")
        else:
            reporter.phase(5, STEPS, "nothing to apply")
    reporter.phase(6, STEPS, "reading outputs and writing the kubeconfig")
    outputs = _outputs(spec, runner)
    kubeconfig = _write_kubeconfig(stack, outputs, workdir, reporter)
    return InfraResult(plan=summary, applied=applied, outputs=outputs, kubeconfig=kubeconfig)


def apply_plan(
    spec: Spec, workdir: Workdir, reporter: Reporter, summary: PlanSummary
) -> InfraResult:
    """Apply exactly the saved plan `summary` describes (the one `plan_infra` made and a
    person reviewed), then read the outputs; steps 1-4 ran with that plan.

    Raises:
        StalePlanError: the state changed since the plan, or another plan replaced the
            file; nothing was applied, and the caller plans again.
        ToolMissingError, StateLockedError, ToolError, Interrupted: as `apply_infra`.
    """
    stack = stacks.for_spec(spec)
    runner = Terraform.for_spec(spec, workdir.terraform, reporter)
    reporter.phase(5, STEPS, f"applying the reviewed plan ({summary.headline()})")
    with _applying(stack):
        runner.apply(summary)
    reporter.ok("applied")
    reporter.phase(6, STEPS, "reading outputs and writing the kubeconfig")
    outputs = _outputs(spec, runner)
    kubeconfig = _write_kubeconfig(stack, outputs, workdir, reporter)
    return InfraResult(plan=summary, applied=True, outputs=outputs, kubeconfig=kubeconfig)


def _write_kubeconfig(
    stack: Stack, outputs: InfraOutputs, workdir: Workdir, reporter: Reporter
) -> Path | None:
    # The infrastructure is in place at this point; a kubeconfig that cannot be written
    # yet (an optional extra missing, say) is a warning for the platform layer to act
    # on, not a failed apply.
    try:
        path = stack.write_kubeconfig(outputs, workdir.kubeconfig)
    except NotImplementedError:
        return None
    except HostKeyMismatchError:
        raise  # not a kubeconfig to retry later: the server may not be the server
    except KfstackError as exc:
        reporter.warn(f"kubeconfig not written: {exc.render()}")
        return None
    reporter.ok(f"kubeconfig: {path}")
    return path


def destroy_infra(
    spec: Spec, workdir: Workdir, reporter: Reporter, confirm: Confirm | None = None
) -> InfraResult:
    """Plan the destruction, ask `confirm(summary)`, and destroy everything kfstack made.

    Raises:
        As `apply_infra`.
    """
    stack, runner = _prepare(spec, workdir, reporter)
    reporter.phase(4, STEPS, "planning the destruction")
    summary = runner.plan(destroy=True)
    reporter.ok(f"plan: {summary.headline()}")
    if not summary.has_changes or (confirm is not None and not confirm(summary)):
        return InfraResult(plan=summary, applied=False)
    with _applying(stack):
        # Guards only an apply can lift (GKE's deletion_protection) go first; the
        # destruction is then planned again against the unguarded configuration.
        if stack.destroy_prepare(workdir.terraform, runner.apply_direct):
            reporter.ok("lifted the guards that block destruction")
            summary = runner.plan(destroy=True)
        reporter.phase(5, STEPS, f"destroying ({summary.destroy} resources)")
        runner.apply(summary, label="destroy")
    reporter.ok("destroyed")
    return InfraResult(plan=summary, applied=True)


def outputs(spec: Spec, workdir: Workdir, reporter: Reporter) -> InfraOutputs:
    """The outputs of the last apply, read from the state (no plan, no credentials check).

    Raises:
        KfstackError: nothing has been applied yet.
        ToolError: terraform cannot read the state.
    """
    if not (workdir.terraform / ".terraform").is_dir():
        raise KfstackError(
            f"no infrastructure has been applied from this spec yet ({workdir.terraform})",
            hint="run `kfstack apply` first",
        )
    stack = stacks.for_spec(spec)
    runner = Terraform.for_spec(spec, workdir.terraform, reporter)
    stack.write(workdir.terraform)
    runner.init()
    return _outputs(spec, runner)


def _outputs(spec: Spec, runner: Terraform) -> InfraOutputs:
    # An apply's event stream already reported them; that spares a terraform run.
    raw = runner.applied_outputs or runner.output()
    if not raw:
        raise KfstackError(
            "the Terraform state has no outputs: nothing has been applied yet",
            hint="run `kfstack apply` first",
        )
    return InfraOutputs.from_terraform(spec.target, raw)
