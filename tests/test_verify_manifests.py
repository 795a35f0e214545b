"""The Notebook the verify check creates is valid against the Notebook CRD of the Kubeflow
release, as the real kustomize builds it (the API server would reject anything else)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from installer.verify import checks

jsonschema = pytest.importorskip("jsonschema")

CRD_DIR = "applications/jupyter/notebook-controller/upstream/crd"


@pytest.fixture(scope="module")
def notebook_schema(kubeflow_release) -> dict:
    if shutil.which("kubectl") is None:
        pytest.skip("needs kubectl (kustomize) on PATH")
    release_dir, _ = kubeflow_release("26.03")
    built = subprocess.run(
        ["kubectl", "kustomize", str(release_dir / CRD_DIR)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    (crd,) = [
        d for d in yaml.safe_load_all(built) if d and d["kind"] == "CustomResourceDefinition"
    ]
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def test_the_verify_notebook_is_valid_against_the_release_crd(notebook_schema):
    manifest = checks.notebook_manifest(
        "kfstack-verify-notebook", "research", checks.NOTEBOOK_IMAGE
    )
    jsonschema.validate(manifest, notebook_schema)


def test_the_crd_schema_rejects_a_notebook_without_an_image(notebook_schema):
    manifest = checks.notebook_manifest("nb", "research", checks.NOTEBOOK_IMAGE)
    del manifest["spec"]["template"]["spec"]["containers"][0]["image"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(manifest, notebook_schema)
