"""The spec loads the examples and names the field at fault when it rejects one."""

from __future__ import annotations

import pytest

from installer.errors import SpecError
from installer.spec import parse_spec


def test_every_example_validates(examples):
    files = sorted(examples.glob("*.yaml"))
    assert {f.stem for f in files} >= {"aws", "gcp", "azure", "baremetal", "existing"}
    for path in files:
        parse_spec(path.read_text(), source=str(path))


def test_a_gpu_pool_without_instance_type_gets_the_cheapest_match():
    loaded = parse_spec(
        "name: x\ntarget: aws\naws: {region: us-east-1}\n"
        "node_pools:\n- {name: sys, min: 1, max: 2}\n"
        "- {name: g, gpu: {model: t4}, min: 0, max: 2}\n"
    )
    pool = loaded.spec.node_pools[1]
    assert (pool.instance_type, pool.gpu.model) == ("g4dn.xlarge", "T4")
    assert [t.key for t in pool.effective_taints] == ["nvidia.com/gpu"]
    assert loaded.spec.node_pools[0].role == "system"


def test_a_mismatched_instance_type_names_the_field_and_the_matching_types():
    with pytest.raises(SpecError) as err:
        parse_spec(
            "name: x\ntarget: aws\naws: {region: us-east-1}\n"
            "node_pools:\n- {name: sys, min: 1, max: 2}\n"
            "- {name: g, gpu: {model: H100, count: 8}, instance_type: g5.xlarge, max: 2}\n"
        )
    (problem,) = err.value.problems
    assert problem.path == "node_pools[1].instance_type"
    assert "p5.48xlarge" in (problem.hint or "")


def test_gitops_enabled_is_accepted_without_a_warning_and_defaults_its_path():
    loaded = parse_spec(
        "name: x\ntarget: aws\naws: {region: us-east-1}\ngitops: {enabled: true}\n"
    )
    assert loaded.warnings == []
    assert loaded.spec.gitops.target_path("x", "dev") == "x/dev"
