"""The schema walker agrees with `terraform validate` wherever the real check can run.

The AWS provider is the one provider installed on these machines (a filesystem mirror),
so its real schema comes from `terraform providers schema -json` (the walker's fallback
for a machine without ../shared) and the same configuration is judged twice: by the real
`terraform validate` and by the walker. One resource per kind of mistake, plus a correct
one; both must flag exactly the same resources. This is what lets the walker stand in for
`terraform validate` on google and azurerm, whose providers cannot be installed here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import tf_schema

pytestmark = pytest.mark.integration

AWS_VERSION = "5.100.0"
MIRROR = Path("/opt/tf-plugins")

GOOD = """
  cluster_name  = "c"
  node_role_arn = "arn:aws:iam::111122223333:role/nodes"
  subnet_ids    = ["subnet-1"]
  labels        = { "kfstack.io/pool" = "gpu" }

  scaling_config {
    desired_size = 0
    min_size     = 0
    max_size     = 4
  }

  dynamic "taint" {
    for_each = ["nvidia.com/gpu"]
    content {
      key    = taint.value
      value  = "present"
      effect = "NO_SCHEDULE"
    }
  }
"""

# name → (text replaced in GOOD, replacement); "good" changes nothing.
CASES = {
    "good": ("", ""),
    "misspelt": ('cluster_name  = "c"', 'cluster_nmae  = "c"'),
    "no_required_arg": ('node_role_arn = "arn:aws:iam::111122223333:role/nodes"', ""),
    "no_required_block": (GOOD[GOOD.index("  scaling_config") : GOOD.index("  dynamic")], ""),
    "no_nested_required": ("    max_size     = 4\n", ""),
    "block_as_attribute": ("scaling_config {", "scaling_config = {"),
    "attribute_as_block": (
        'labels        = { "kfstack.io/pool" = "gpu" }',
        'labels {\n    pool = "gpu"\n  }',
    ),
    "repeated_single": (
        "  dynamic",
        "  scaling_config {\n    desired_size = 1\n    min_size = 1\n    max_size = 1\n  }\n"
        "  dynamic",
    ),
    "unknown_dynamic": ('dynamic "taint"', 'dynamic "taints"'),
    "unknown_in_content": ('      value  = "present"', '      valeu  = "present"'),
    "computed_only": ('  cluster_name  = "c"', '  cluster_name  = "c"\n  arn = "x"'),
}


@pytest.fixture(scope="module")
def aws_root(tmp_path_factory):
    """An initialised root requiring the mirrored AWS provider; yields (dir, env)."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    if not (MIRROR / "registry.terraform.io" / "hashicorp" / "aws" / AWS_VERSION).is_dir():
        pytest.skip(f"no AWS provider {AWS_VERSION} mirror at {MIRROR}")
    scratch = tmp_path_factory.mktemp("aws-fidelity")
    rc = scratch / "terraformrc"
    rc.write_text(
        "provider_installation {\n  filesystem_mirror {\n    path = "
        + json.dumps(str(MIRROR))
        + "\n  }\n}\n"
    )
    root = scratch / "root"
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), CHECKPOINT_DISABLE="1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TF_CLI_CONFIG_FILE", str(rc))
        schema_path, reason = tf_schema.locate_schema(None, "aws", root, version=AWS_VERSION)
    assert schema_path is not None, reason
    yield root, env, tf_schema.ProviderSchema.load(schema_path)


def _flagged_by_terraform(root: Path, env: dict) -> set[str]:
    result = subprocess.run(
        ["terraform", "validate", "-json", "-no-color"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    flagged = set()
    for diagnostic in report["diagnostics"]:
        if diagnostic["severity"] != "error":
            continue
        context = (diagnostic.get("snippet") or {}).get("context") or ""
        match = re.search(r'resource "[^"]+" "([^"]+)"', context)
        assert match, f"diagnostic outside a resource: {diagnostic}"
        flagged.add(match.group(1))
    return flagged


def test_the_walker_flags_exactly_what_terraform_validate_flags(aws_root):
    root, env, schema = aws_root
    blocks = []
    for name, (old, new) in CASES.items():
        body = GOOD.replace(old, new, 1) if old else GOOD
        assert old == "" or body != GOOD, name
        blocks.append(f'resource "aws_eks_node_group" "{name}" {{{body}}}\n')
    blocks.append('resource "aws_eks_node_grop" "unknown_type" {\n  cluster_name = "c"\n}\n')
    (root / "main.tf").write_text("\n".join(blocks))

    by_terraform = _flagged_by_terraform(root, env)
    report = tf_schema.check_root(root, [schema])
    by_walker = {re.match(r"main\.tf: \w+\.(\w+)", p).group(1) for p in report.problems}

    assert by_terraform == set(CASES) - {"good"} | {"unknown_type"}
    assert by_walker == by_terraform
