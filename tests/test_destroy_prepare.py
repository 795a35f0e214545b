"""`kfstack destroy` lifts deletion guards through `Stack.destroy_prepare` before destroying.

Real Terraform runs the whole `infra.destroy_infra` flow on a root of Terraform's
built-in `terraform_data` resources (no provider needed). The stack stands in for GKE:
its "cluster" carries a guard value that, like GKE's `deletion_protection`, only an
apply can change, and `destroy_prepare` lifts it with a targeted apply, as the GKE stack
does. What is checked: the guard is lifted on the cluster alone, after confirmation and
before the destruction, and the destruction then runs on a fresh plan.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from cloud_specs import gcp_spec

import stacks
from installer import infra
from installer.console import Reporter
from installer.workdir import Workdir
from stacks.base import Stack

pytestmark = pytest.mark.integration


class GuardedStack(Stack):
    """Two resources; `cluster` is guarded until destroy_prepare re-applies it."""

    target = "gcp"

    def __init__(self, spec, events: list) -> None:
        super().__init__(spec)
        self.events = events
        self.guarded = True

    def documents(self):
        guard = "protected" if self.guarded else "unprotected"
        return {
            "main.tf.json": {
                "resource": {
                    "terraform_data": {
                        "cluster": {"input": guard},
                        "network": {"input": "net"},
                    }
                },
                "output": {"cluster_name": {"value": "c"}},
            }
        }

    def destroy_prepare(self, directory, apply) -> bool:
        self.events.append("prepare")
        self.guarded = False
        self.write(directory)
        apply(["-target=terraform_data.cluster"])
        self.events.append("lifted")
        return True


@pytest.fixture
def guarded(monkeypatch, tmp_path):
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    events: list[str] = []
    spec = gcp_spec("us-central1", [])
    stack = GuardedStack(spec, events)
    monkeypatch.setattr(stacks, "for_spec", lambda _spec: stack)
    return spec, Workdir(tmp_path / "work"), stack, events


def _state(workdir: Workdir) -> dict:
    proc = subprocess.run(
        ["terraform", "show", "-json"],
        cwd=workdir.terraform,
        capture_output=True,
        text=True,
        check=True,
    )
    values = json.loads(proc.stdout).get("values") or {}
    resources = values.get("root_module", {}).get("resources", [])
    return {r["address"]: r["values"]["input"] for r in resources}


def test_destroy_lifts_the_guard_on_the_cluster_alone_then_destroys_everything(guarded):
    spec, workdir, stack, events = guarded
    infra.apply_infra(spec, workdir, Reporter())
    assert _state(workdir) == {
        "terraform_data.cluster": "protected",
        "terraform_data.network": "net",
    }

    def confirm(summary) -> bool:
        events.append(f"confirm {summary.destroy}")
        return True

    result = infra.destroy_infra(spec, workdir, Reporter(), confirm)

    assert result.applied is True
    assert events == ["confirm 2", "prepare", "lifted"]
    assert _state(workdir) == {}


def test_a_declined_destroy_leaves_the_guard_in_place(guarded):
    spec, workdir, stack, events = guarded
    infra.apply_infra(spec, workdir, Reporter())

    result = infra.destroy_infra(spec, workdir, Reporter(), lambda summary: False)

    assert result.applied is False
    assert events == []
    assert _state(workdir)["terraform_data.cluster"] == "protected"


def test_the_targeted_apply_touches_only_the_guarded_resource(guarded):
    spec, workdir, stack, events = guarded
    infra.apply_infra(spec, workdir, Reporter())
    runner = infra.Terraform.for_spec(spec, workdir.terraform, Reporter())
    stack.guarded = False
    stack.write(workdir.terraform)

    summary = runner.plan(extra_args=["-target=terraform_data.cluster"])

    assert [c["address"] for c in summary.changes] == ["terraform_data.cluster"]
