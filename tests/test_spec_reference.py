"""docs/spec-reference.md is generated from the model and kept up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "spec_reference.py"


def _script():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import spec_reference
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return spec_reference


def test_the_committed_reference_matches_the_model():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, (
        result.stdout
        + result.stderr
        + ("\nrun scripts/spec_reference.py and commit docs/spec-reference.md")
    )


def test_every_field_of_the_model_has_a_description():
    assert _script().undocumented() == []


def test_the_reference_lists_paths_types_defaults_and_allowed_values():
    text = (REPO / "docs" / "spec-reference.md").read_text()
    assert "| `node_pools[].gpu.model` | string | **required** |" in text
    assert "| `aws.network.nat` | string | `single` |" in text
    assert "One of: `single`, `per-zone`, `none`." in text
    assert "| `kubeflow.teams[].quota.gpu` | integer or null | null |" in text


def test_check_mode_notices_a_stale_file(tmp_path, monkeypatch):
    module = _script()
    stale = tmp_path / "spec-reference.md"
    stale.write_text("old\n")
    monkeypatch.setattr(module, "OUTPUT", stale)
    monkeypatch.setattr(module, "REPO", tmp_path)
    assert module.main(["--check"]) == 1
    assert module.main([]) == 0
    assert module.main(["--check"]) == 0


def test_the_minimal_spec_in_the_readme_validates():
    from installer.spec import parse_spec

    readme = (REPO / "README.md").read_text()
    section = readme.split("## Spec reference", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = parse_spec(block, source="README.md")
    assert loaded.spec.gpu_pools[0].instance_type
