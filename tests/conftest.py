"""Shared fixtures. `shared_dir` is the read-only ../shared beside the clone (absent on a
user's machine, where the tests that need it fetch what kfstack itself would fetch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from installer import redact

# The platform tests' session fixtures (render cache, sources for each release).
pytest_plugins = ["platform_support"]

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def find_shared() -> Path | None:
    for candidate in (REPO.parent / "shared", REPO.parent.parent / "shared"):
        if (candidate / "kubeflow-manifests").is_dir():
            return candidate
    return None


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture(autouse=True)
def _fresh_redaction():
    redact.clear()
    yield
    redact.clear()


@pytest.fixture(autouse=True)
def _isolated_logs(tmp_path_factory, monkeypatch):
    # Runs that are not tied to a spec log under the user's state dir; keep tests out of it.
    monkeypatch.setenv("KFSTACK_LOG_DIR", str(tmp_path_factory.mktemp("logs")))


@pytest.fixture
def hermetic_git(tmp_path, monkeypatch):
    """git reads only this test's configuration (no system or user settings)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.com\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
