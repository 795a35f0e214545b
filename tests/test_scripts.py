"""The set-up scripts a fresh clone runs first: shell that shellcheck finds no fault in."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_the_set_up_and_ci_scripts_are_shellcheck_clean():
    scripts = sorted(str(path) for path in (REPO / "scripts").glob("*.sh"))
    assert len(scripts) >= 3, scripts  # bootstrap, sandbox, test
    result = subprocess.run(
        ["shellcheck", "--shell=bash", *scripts, str(REPO / ".ci" / "run")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
