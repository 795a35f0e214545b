"""The Terraform runner with the real binary on provider-free configurations
(`terraform_data` is built into Terraform), so these run without any cloud or emulator."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from installer.console import Reporter
from installer.errors import Interrupted, ToolError
from installer.terraform import (
    Diagnostic,
    PlanSummary,
    StalePlanError,
    StateLockedError,
    Terraform,
    _lock_error,
    _Progress,
)

needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform")


def _root(tmp_path: Path, resources: dict) -> Terraform:
    root = {
        "variable": {"gate": {"default": "shut"}},
        "resource": resources,
        "output": {"gate": {"value": "${var.gate}"}},
    }
    (tmp_path / "main.tf.json").write_text(json.dumps(root))
    return Terraform(shutil.which("terraform"), tmp_path, Reporter())


class Recorder(Reporter):
    def __init__(self) -> None:
        self.events: list[tuple[str, int, int | None, str]] = []

    def progress(self, label, done, total, detail=""):
        self.events.append((label, done, total, detail))


@needs_terraform
def test_plan_apply_and_replan_report_counts_progress_and_no_changes(tmp_path):
    runner = _root(tmp_path, {"terraform_data": {"a": {"input": "1"}, "b": {"input": "2"}}})
    assert runner.init() is True
    assert runner.init() is False  # nothing changed: init is skipped

    summary = runner.plan()
    assert (summary.add, summary.change, summary.destroy) == (2, 0, 0)
    assert summary.by_type == {"terraform_data": {"add": 2, "change": 0, "destroy": 0}}
    assert runner.show_plan().to_dict() == summary.to_dict()

    recorder = Recorder()
    runner.reporter = recorder
    runner.apply(summary)
    assert recorder.events[-1][1:3] == (2, 2)
    assert runner.applied_outputs == runner.output()  # read from the apply's stream
    assert any("terraform_data.a" in e[3] for e in recorder.events)
    assert not runner.plan().has_changes


@needs_terraform
def test_a_saved_plan_made_stale_by_another_apply_is_refused_as_stale(tmp_path):
    runner = _root(tmp_path, {"terraform_data": {"a": {"input": "1"}, "b": {"input": "2"}}})
    runner.init()
    shown = runner.plan()
    # Another run changes the state between the plan shown and its apply.
    runner.apply_direct(["-target=terraform_data.b"])
    with pytest.raises(StalePlanError, match="(?i)saved plan is stale"):
        runner.apply(shown)
    fresh = runner.plan()
    assert [c["address"] for c in fresh.changes] == ["terraform_data.a"]


@needs_terraform
def test_a_plan_file_replaced_after_it_was_shown_is_not_applied(tmp_path):
    runner = _root(tmp_path, {"terraform_data": {"a": {"input": "1"}}})
    runner.init()
    shown = runner.plan()
    runner.plan(destroy=True)  # another plan in the same directory overwrites the file
    with pytest.raises(StalePlanError, match="not the one that was shown"):
        runner.apply(shown)
    assert runner.plan().add == 1  # nothing was applied


@needs_terraform
def test_a_failing_resource_becomes_a_tool_error_naming_its_address(tmp_path):
    bad = {
        "terraform_data": {
            "gate": {
                "input": "x",
                "lifecycle": [
                    {
                        "precondition": [
                            {
                                "condition": '${var.gate == "open"}',
                                "error_message": "the gate is shut",
                            }
                        ]
                    }
                ],
            }
        }
    }
    runner = _root(tmp_path, bad)
    runner.init()
    with pytest.raises(ToolError) as failed:
        runner.plan()
    text = failed.value.render()
    assert "terraform_data.gate.lifecycle[0].precondition[0]: Resource precondition failed" in text
    assert "the gate is shut" in text
    assert failed.value.returncode == 1


@needs_terraform
def test_ctrl_c_stops_terraform_gracefully_and_releases_the_state_lock(tmp_path):
    slow = {"terraform_data": {"slow": {"provisioner": [{"local-exec": {"command": "sleep 20"}}]}}}
    runner = _root(tmp_path, slow)
    runner.init()
    summary = runner.plan()

    class InterruptOnStart(Reporter):
        def progress(self, label, done, total, detail=""):
            if "terraform_data.slow" in detail and done == 0:
                threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()

    runner.reporter = InterruptOnStart()
    started = time.monotonic()
    with pytest.raises(Interrupted):
        runner.apply(summary)
    assert time.monotonic() - started < 15  # terraform stopped, not sleep's 20 s
    assert not (tmp_path / ".terraform.tfstate.lock.info").exists()
    # Terraform recorded the interrupted resource; a re-run can plan again at once.
    runner.reporter = Reporter()
    runner.plan()


def test_a_held_lock_becomes_a_message_naming_the_lock_and_the_way_out(tmp_path):
    detail = (
        "Error message: ConditionalCheckFailedException\nLock Info:\n"
        "  ID:        1d2c-77\n  Path:      b/k\n  Operation: OperationTypeApply\n"
        "  Who:       bob@ci\n  Version:   1.11.4\n  Created:   2026-12-03 10:00:00 UTC\n"
    )
    error = _lock_error(
        Diagnostic("error", "Error acquiring the state lock", detail), ["terraform"], 1, tmp_path
    )
    assert isinstance(error, StateLockedError)
    assert error.message.startswith("another kfstack run holds the state lock (lock id 1d2c-77")
    assert "bob@ci" in error.message
    assert error.hint.endswith(f"`terraform -chdir={tmp_path} force-unlock 1d2c-77`")


def test_plan_summary_counts_a_replacement_as_one_add_and_one_destroy():
    show = {
        "resource_changes": [
            {"address": "a.x", "type": "a", "change": {"actions": ["delete", "create"]}},
            {"address": "a.y", "type": "a", "change": {"actions": ["no-op"]}},
            {"address": "b.z", "type": "b", "change": {"actions": ["update"]}},
        ],
        "output_changes": {"o": {"actions": ["no-op"]}},
    }
    summary = PlanSummary.from_show(show)
    assert (summary.add, summary.change, summary.destroy) == (1, 1, 1)
    assert summary.operations == 3
    assert summary.changes == [
        {"address": "a.x", "action": "replace"},
        {"address": "b.z", "action": "change"},
    ]
    events = [
        {
            "type": "planned_change",
            "change": {"resource": {"addr": "a.x", "resource_type": "a"}, "action": "replace"},
        },
        {
            "type": "planned_change",
            "change": {"resource": {"addr": "b.z", "resource_type": "b"}, "action": "update"},
        },
        {"type": "outputs", "outputs": {"o": {"action": "noop"}}},
    ]
    assert PlanSummary.from_events(events).to_dict() == summary.to_dict()


@needs_terraform
def test_a_one_step_apply_reports_what_it_planned_and_counts_progress_against_it(tmp_path):
    runner = _root(tmp_path, {"terraform_data": {"a": {"input": "1"}, "b": {"input": "2"}}})
    runner.init()
    recorder = Recorder()
    runner.reporter = recorder
    summary = runner.apply_auto()
    assert (summary.add, summary.change, summary.destroy) == (2, 0, 0)
    assert recorder.events[-1][1:3] == (2, 2)
    assert not runner.apply_auto().has_changes
    assert runner.applied_outputs == runner.output()


def test_data_sources_read_during_apply_do_not_count_against_the_planned_total():
    recorder = Recorder()
    progress = _Progress(recorder, "apply", 1)
    for action, addr in (("read", "data.aws_iam_policy_document.x"), ("create", "aws_vpc.this")):
        hook = {"resource": {"addr": addr}, "action": action}
        progress.event({"type": "apply_start", "hook": hook})
        progress.event({"type": "apply_complete", "hook": hook})
    assert recorder.events[-1][1:3] == (1, 1)


def _lock_detail(who: str, created: str) -> Diagnostic:
    return Diagnostic(
        "error",
        "Error acquiring the state lock",
        "Error message: operation error DynamoDB: PutItem, ConditionalCheckFailedException\n"
        "Lock Info:\n  ID:        2db2c0b9\n  Path:      b/kft/dev/terraform.tfstate\n"
        f"  Operation: OperationTypeApply\n  Who:       {who}\n  Version:   1.11.4\n"
        f"  Created:   {created}\n  Info:\n",
    )


def test_a_lock_this_command_took_itself_is_named_as_such_not_as_another_run():
    # What the AWS emulator tests hit: the SDK resent a lock write whose answer was lost.
    me = f"{pwd.getpwuid(os.getuid()).pw_name}@{socket.gethostname()}"
    started = time.time() - 1
    created = time.strftime("%Y-%m-%d %H:%M:%S.123456789 +0000 UTC", time.gmtime())
    argv = ["terraform", "apply"]
    own = _lock_error(_lock_detail(me, created), argv, 1, Path("/w"), started)
    assert "was taken by this very terraform apply" in own.message
    assert "force-unlock 2db2c0b9" in (own.hint or "")
    other = _lock_error(_lock_detail("ci@elsewhere", created), argv, 1, Path("/w"), started)
    assert other.message.startswith("another kfstack run holds the state lock (lock id 2db2c0b9")
    earlier = _lock_error(_lock_detail(me, created), argv, 1, Path("/w"), started + 60)
    assert earlier.message.startswith("another kfstack run holds the state lock")
