"""The real `terraform validate` passes every GKE and AKS root of the matrix.

The google and azurerm plugins cannot be installed here, so `standin_provider` serves
their real (offline) schemas over the plugin protocol and Terraform does the judging:
arguments, blocks, types, module wiring and every reference to a resource attribute.
The walker (`test_tf_schema.py`) checks what validate leaves to the provider, such as
required blocks inside `dynamic` content and values passed through module variables.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import terraform_run
from cloud_specs import HALF_MATRIX, azure_spec, gcp_spec, regions_for, row_id

import stacks
from installer.spec import load_spec

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    yield from terraform_run.standin_session(tmp_path_factory)


def _validate(spec, root: Path, standin) -> dict:
    stacks.for_spec(spec).write(root)
    return terraform_run.validate(root, standin)


def _errors(report: dict) -> list[str]:
    return [
        f"{d['summary']}: {d.get('detail', '')} ({(d.get('range') or {}).get('filename')})"
        for d in report["diagnostics"]
        if d["severity"] == "error"
    ]


@pytest.mark.parametrize(
    ("spot", "zones", "existing", "rwx", "snapshots"),
    HALF_MATRIX,
    ids=[row_id(r) for r in HALF_MATRIX],
)
def test_terraform_validate_passes_every_gke_and_aks_root_of_the_matrix(
    spot, zones, existing, rwx, snapshots, standin, tmp_path
):
    options = {
        "spot": spot,
        "zones": zones,
        "existing_network": existing,
        "rwx": rwx,
        "snapshots": snapshots,
    }
    specs = [
        gcp_spec(region, models, channel="UNSPECIFIED" if spot else "REGULAR", **options)
        for region, models in regions_for("gcp")
    ] + [azure_spec(region, models, **options) for region, models in regions_for("azure")]
    for index, spec in enumerate(specs):
        report = _validate(spec, tmp_path / str(index), standin)
        assert _errors(report) == [], spec.target
        assert report["valid"] is True


def test_terraform_validate_passes_the_examples(examples, standin, tmp_path):
    for example in ("gcp", "azure"):
        report = _validate(
            load_spec(examples / f"{example}.yaml").spec, tmp_path / example, standin
        )
        assert _errors(report) == []


@pytest.mark.parametrize(
    ("module", "old", "new", "problem"),
    [
        (
            "gcp-gke/main.tf",
            "enabled = var.filestore_csi",
            "enabled = var.filestore_csi\n      bogus = true",
            'An argument named "bogus" is not expected here',
        ),
        (
            "gcp-gke/outputs.tf",
            "cluster_ca_certificate",
            "cluster_ca_cert",
            'no argument, nested block, or exported attribute named "cluster_ca_cert"',
        ),
        (
            "azure-aks/outputs.tf",
            "oidc_issuer_url",
            "oidc_issuer",
            'exported attribute named "oidc_issuer"',
        ),
        (
            "azure-aks/main.tf",
            "resource_group_name = var.resource_group_name\n  dns_prefix",
            "dns_prefix",
            'The argument "resource_group_name" is required',
        ),
    ],
    ids=["unknown-argument", "unknown-gke-attribute", "unknown-aks-attribute", "missing"],
)
def test_the_standin_lets_terraform_catch_real_mistakes(
    module, old, new, problem, examples, standin, tmp_path
):
    example = "gcp" if module.startswith("gcp") else "azure"
    root = tmp_path / "root"
    stacks.for_spec(load_spec(examples / f"{example}.yaml").spec).write(root)
    path = root / "modules" / module
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))

    report = terraform_run.validate(root, standin)

    assert report["valid"] is False
    assert any(problem in e for e in _errors(report)), _errors(report)
