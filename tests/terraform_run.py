"""Running the real `terraform` on a written root against the stand-in providers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import tf_schema
from conftest import find_shared


def standin_session(tmp_path_factory):
    """Serve the google and azurerm stand-ins (a generator for module-scoped fixtures)."""
    standin_provider = pytest.importorskip(
        "standin_provider", reason="tfplugin-proto-all and msgpack (the test extra) are missing"
    )
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    paths = {}
    for name in ("google", "azurerm"):
        path, reason = tf_schema.locate_schema(
            find_shared(), name, tmp_path_factory.mktemp(f"schema-{name}")
        )
        if path is None:
            pytest.skip(reason)
        paths[name] = path
    with standin_provider.StandIn(paths) as served:
        yield served


def terraform(root: Path, standin, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["terraform", *args, "-no-color"],
        cwd=root,
        env=standin.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def init(root: Path, standin) -> None:
    result = terraform(root, standin, "init", "-backend=false", "-input=false")
    assert result.returncode == 0, result.stderr


def validate(root: Path, standin) -> dict:
    init(root, standin)
    return json.loads(terraform(root, standin, "validate", "-json").stdout)


def plan(root: Path, standin) -> dict[str, dict]:
    """`terraform plan` of the root; the planned `after` values by resource address."""
    init(root, standin)
    result = terraform(root, standin, "plan", "-out=kfstack.plan", "-input=false", "-lock=false")
    assert result.returncode == 0, result.stderr
    shown = json.loads(terraform(root, standin, "show", "-json", "kfstack.plan").stdout)
    return {
        change["address"]: change["change"]["after"]
        for change in shown.get("resource_changes", [])
        if change["change"]["actions"] == ["create"]
    }
