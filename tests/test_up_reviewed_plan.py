"""`kfstack up` applies the Terraform plan it showed; a plan terraform calls stale is made
and confirmed again, or, under --yes, stops the run with nothing applied.

Terraform's own refusal of a stale plan is pinned with the real binary in
test_terraform_runner.py, and the single plan per `up` in test_up_sandbox.py; here the
infra layer is replaced by recorders so each branch of the decision is exercised."""

from __future__ import annotations

import pytest
import yaml
from conftest import EXAMPLES

from installer import infra, planview
from installer import up as _up
from installer.console import Reporter
from installer.errors import KfstackError
from installer.spec import validate_data
from installer.terraform import PlanSummary, StalePlanError
from installer.workdir import Workdir

SHOWN = PlanSummary(add=3, changes=[{"address": "a", "action": "add"}], plan_digest="sha256:1")
FRESH = PlanSummary(add=1, changes=[{"address": "b", "action": "add"}], plan_digest="sha256:2")


@pytest.fixture
def spec():
    return validate_data(yaml.safe_load((EXAMPLES / "aws.yaml").read_text())).spec


@pytest.fixture
def recorded(monkeypatch):
    calls: list[tuple[str, PlanSummary | None]] = []

    def apply_plan(spec, workdir, reporter, summary):
        calls.append(("apply", summary))
        if summary is SHOWN:
            raise StalePlanError("terraform apply refused the saved plan: Saved plan is stale")
        return infra.InfraResult(plan=summary, applied=True)

    def plan_infra(spec, workdir, reporter, *, destroy=False):
        calls.append(("plan", None))
        return FRESH

    monkeypatch.setattr(infra, "apply_plan", apply_plan)
    monkeypatch.setattr(infra, "plan_infra", plan_infra)
    return calls


def _apply(spec, tmp_path, options):
    result = _up.UpResult(platform="p", target="aws", sandbox=False)
    applied = _up._apply_reviewed(
        spec, Workdir(tmp_path), Reporter(), options, (SHOWN, None), result
    )
    return applied, result


def test_the_saved_plan_is_applied_as_shown_without_planning_again(spec, tmp_path, recorded):
    recorded_shown = PlanSummary(plan_digest="sha256:3")
    result = _up.UpResult(platform="p", target="aws", sandbox=False)
    options = _up.UpOptions(confirm=lambda plan: pytest.fail("asked twice"))
    _up._apply_reviewed(
        spec, Workdir(tmp_path), Reporter(), options, (recorded_shown, None), result
    )
    assert recorded == [("apply", recorded_shown)]


def test_a_stale_plan_is_planned_again_and_the_new_plan_confirmed_before_it_is_applied(
    spec, tmp_path, recorded
):
    asked: list[planview.Plan] = []
    options = _up.UpOptions(confirm=lambda plan: asked.append(plan) or True)
    applied, result = _apply(spec, tmp_path, options)
    assert recorded == [("apply", SHOWN), ("plan", None), ("apply", FRESH)]
    assert applied is not None and applied.plan is FRESH
    assert len(asked) == 1 and asked[0].terraform is not None
    assert result.plan == asked[0].to_dict()


def test_a_declined_new_plan_applies_nothing(spec, tmp_path, recorded):
    applied, _ = _apply(spec, tmp_path, _up.UpOptions(confirm=lambda plan: False))
    assert applied is None
    assert recorded == [("apply", SHOWN), ("plan", None)]


def test_under_yes_a_stale_plan_stops_the_run_with_a_message_and_nothing_applied(
    spec, tmp_path, recorded
):
    options = _up.UpOptions(confirm=lambda plan: True, yes=True)
    with pytest.raises(KfstackError, match="changed after the plan was made") as caught:
        _apply(spec, tmp_path, options)
    assert "without --yes" in (caught.value.hint or "")
    assert recorded == [("apply", SHOWN)]
