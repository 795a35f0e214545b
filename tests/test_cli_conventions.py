"""Conventions every command keeps: JSON alone on stdout, a log file whose path is printed,
and tracebacks only with --debug."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from installer.cli import cli

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def spec(tmp_path, examples) -> str:
    path = tmp_path / "kfstack.yaml"
    path.write_text((examples / "existing.yaml").read_text())
    return str(path)


def commands(spec: str, tmp_path: Path) -> dict[str, list[str]]:
    return {
        "validate": ["validate", "-c", spec],
        "doctor": ["doctor", "-c", spec],
        "catalog": ["catalog", "--target", "gcp"],
        "init": ["init", "--non-interactive", "--target", "existing", "--name", "x",
                 "-c", str(tmp_path / "new.yaml")],
        "schema": ["schema"],
    }  # fmt: skip


JSON_COMMANDS = ("validate", "doctor", "catalog", "init")


@pytest.mark.parametrize("name", JSON_COMMANDS)
def test_output_json_puts_only_json_on_stdout(name, spec, tmp_path):
    result = CliRunner().invoke(cli, [*commands(spec, tmp_path)[name], "--output", "json"])
    assert result.exit_code in (0, 1), result.output
    json.loads(result.stdout)
    assert "Log: " in result.stderr


@pytest.mark.parametrize("name", ["validate", "doctor", "catalog", "init", "schema"])
def test_every_command_prints_the_path_of_its_log_file_which_exists(name, spec, tmp_path):
    result = CliRunner().invoke(cli, commands(spec, tmp_path)[name])
    match = re.search(r"Log: (\S+\.log)", result.stderr)
    assert match, result.stderr
    log = Path(match.group(1))
    assert log.is_file()
    assert f"kfstack {name}" in log.read_text()
    assert "Log: " not in result.stdout


def test_a_failing_command_prints_the_log_path_again_at_the_end(tmp_path):
    result = CliRunner().invoke(cli, ["validate", "-c", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert result.stderr.count("Log: ") == 2
    assert result.stderr.strip().splitlines()[-1].split(" ", 1)[1].startswith("Log: ")


# The --debug tests run the real entry point in a child process, the way a person sees it;
# the failure is injected by replacing installer.catalog.offers before main() runs.
BOOM = (
    "import sys, installer.catalog as c\n"
    "def boom(*a, **k):\n"
    "    raise RuntimeError('catalog exploded')\n"
    "c.offers = boom\n"
    "from installer.cli import main\n"
    "sys.argv = ['kfstack', *sys.argv[1:]]\n"
    "main()\n"
)


def run_boom(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KFSTACK_LOG_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-c", BOOM, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
        check=False,
    )


def test_an_internal_error_without_debug_hides_the_traceback_and_points_to_the_log(tmp_path):
    proc = run_boom(tmp_path, "catalog")
    assert proc.returncode == 1
    assert "Error: internal error: RuntimeError: catalog exploded" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "re-run with --debug" in proc.stderr
    (log,) = tmp_path.glob("*-catalog-*.log")
    assert "Traceback" in log.read_text()


@pytest.mark.parametrize("args", [("catalog", "--debug"), ("--debug", "catalog")])
def test_debug_shows_the_traceback_of_an_internal_error(tmp_path, args):
    proc = run_boom(tmp_path, *args)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "RuntimeError: catalog exploded" in proc.stderr


def test_debug_shows_the_traceback_of_a_user_error_too_and_keeps_exit_2(tmp_path):
    plain = CliRunner().invoke(cli, ["catalog", "--gpu", "nope"])
    debug = CliRunner().invoke(cli, ["catalog", "--gpu", "nope", "--debug"])
    assert plain.exit_code == debug.exit_code == 2
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr


def test_an_invalid_spec_with_output_json_lists_its_problems_on_stdout(tmp_path):
    path = tmp_path / "kfstack.yaml"
    path.write_text("name: x\ntarget: aws\naws: {region: us-east-1, zones: [eu-west-1a]}\n")
    result = CliRunner().invoke(cli, ["validate", "-c", str(path), "-o", "json"])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert [p["path"] for p in data["problems"]][0] == "aws.zones[0]"
    assert "Error:" in result.stderr
