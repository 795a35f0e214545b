"""Checks every rendered object before anything is written.

- Built-in kinds against the Kubernetes OpenAPI schema of the spec's Kubernetes
  version. The schemas come from the `kubernetes-validate` package (per-version JSON
  Schema generated from the upstream OpenAPI documents, offline); the *strict*
  variant is used, so a misspelt field in a patch is caught, not silently dropped.
- Custom resources against the `openAPIV3Schema` of their CRD, found in the same
  render. Kinds the target's platform provides (GKE's and AKS's snapshot CRDs) are
  accepted by group; anything else without a schema is an error.
- No two objects share group/kind/namespace/name; every namespaced object's namespace
  is built in, rendered, or created by a Profile.

Every problem names the component, the object and the field (`Problem.render`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource

from installer.errors import UserError

LOG = logging.getLogger("kfstack.platform.validate")

BUILTIN_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}
# Built-in kinds that are cluster-scoped (the schemas do not say).
CLUSTER_SCOPED = {
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "CSIDriver",
    "CSINode",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "APIService",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "PodSecurityPolicy",
    "VolumeAttachment",
    "CertificateSigningRequest",
    "DeviceClass",
    # Snapshot classes where the platform owns the CRDs (GKE, AKS): no CRD in the render.
    "VolumeSnapshotClass",
    "VolumeSnapshotContent",
}


@dataclass(frozen=True)
class Problem:
    component: str
    obj: str
    field: str
    message: str

    def render(self) -> str:
        where = f" field {self.field}:" if self.field else ""
        return f"component {self.component}: {self.obj}:{where} {self.message}"


class ValidationFailed(UserError):
    """Rendered objects failed validation; `problems` lists each one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  - {p.render()}" for p in problems[:25])
        more = f"\n  ... and {len(problems) - 25} more" if len(problems) > 25 else ""
        super().__init__(
            f"{len(problems)} rendered object(s) failed validation:\n{shown}{more}",
            hint="fix the overlay or spec field named above; the upstream release is unchanged",
        )


def describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {ns}{meta.get('name')}"


def key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    meta = obj.get("metadata") or {}
    return (group, str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


# ---------------------------------------------------------------------------- schemas


def schema_version(kubernetes: str) -> str:
    """The newest schema set not newer than `kubernetes` (1.34 -> v1.34.0)."""
    versions = _schema_versions()
    want = tuple(int(x) for x in kubernetes.split(".")[:2])
    usable = [v for v in versions if v <= want]
    if not usable:
        raise UserError(
            f"kubernetes.version {kubernetes}: no OpenAPI schemas for it in kubernetes-validate",
            hint="upgrade kubernetes-validate (pip install -U kubernetes-validate)",
        )
    major, minor = usable[-1]
    return f"v{major}.{minor}.0"


@lru_cache(maxsize=1)
def _schema_versions() -> list[tuple[int, int]]:
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    found = set()
    for entry in root.iterdir():
        name = entry.name
        if name.startswith("v") and name.endswith("-local-strict"):
            major, minor = name[1:].split("-")[0].split(".")[:2]
            found.add((int(major), int(minor)))
    return sorted(found)


def _schema_dir(version: str) -> Any:
    return resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/{version}-local-strict"
    )


@lru_cache(maxsize=4)
def _definitions(version: str) -> Registry:
    defs = json.loads(_schema_dir(version).joinpath("_definitions.json").read_text())
    return Resource.from_contents(defs) @ Registry()


@lru_cache(maxsize=512)
def builtin_validator(version: str, api_version: str, kind: str) -> Any | None:
    """A validator for a built-in kind, or None when Kubernetes has no such kind."""
    group_version = api_version.split("/")
    if len(group_version) == 1:
        name = f"{kind.lower()}-{group_version[0]}.json"
    else:
        group = group_version[0].split(".")[0]
        name = f"{kind.lower()}-{group}-{group_version[1]}.json"
    path = _schema_dir(version).joinpath(name)
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    # The file names drop the group's domain; make sure the group really matches.
    if not _gvk_matches(schema, api_version, kind):
        return None
    return jsonschema.Draft202012Validator(schema, registry=_definitions(version))


def _gvk_matches(schema: dict[str, Any], api_version: str, kind: str) -> bool:
    gvks = schema.get("x-kubernetes-group-version-kind")
    if not gvks:
        return True
    group, _, ver = api_version.rpartition("/")
    return any(
        g.get("group", "") == group and g.get("version") == ver and g.get("kind") == kind
        for g in gvks
    )


def crd_schemas(objects: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, version, kind) -> {scope, schema} for every CRD among `objects`."""
    out = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind")
        for ver in spec.get("versions") or []:
            schema = (ver.get("schema") or {}).get("openAPIV3Schema") or {}
            out[(spec.get("group", ""), ver.get("name", ""), kind)] = {
                "scope": spec.get("scope", "Namespaced"),
                "schema": schema,
                "served": ver.get("served", True),
            }
    return out


@lru_cache(maxsize=256)
def _crd_validator(schema_json: str) -> Any:
    return jsonschema.Draft202012Validator(_openapi_to_jsonschema(json.loads(schema_json)))


def _openapi_to_jsonschema(schema: Any) -> Any:
    """OpenAPI v3 structural schema -> JSON Schema (nullable, int-or-string)."""
    if isinstance(schema, list):
        return [_openapi_to_jsonschema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _openapi_to_jsonschema(v) for k, v in schema.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-preserve-unknown-fields") and out.get("type") == "object":
        out.pop("additionalProperties", None)
    # Formats are advisory in Kubernetes' structural schemas.
    out.pop("format", None)
    return out


# ---------------------------------------------------------------------------- checks


def check_objects(
    component: str,
    objects: list[dict[str, Any]],
    *,
    k8s_schema: str,
    crds: dict[tuple[str, str, str], dict[str, Any]],
    platform_groups: frozenset[str] = frozenset(),
) -> list[Problem]:
    """Schema problems of one component's objects (built-in or CRD schemas)."""
    problems = []
    # A CRD's schema is serialised once per call, not once per object: the JSON of a big
    # schema (KServe's, Istio's) costs more than checking a small custom resource.
    by_crd: dict[int, Any] = {}
    for obj in objects:
        api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
        desc = describe(obj)
        if not api_version or not kind or not (obj.get("metadata") or {}).get("name"):
            problems.append(Problem(component, desc, "", "needs apiVersion, kind and name"))
            continue
        group, _, version = api_version.rpartition("/")
        crd = crds.get((group, version, kind))
        validator = None
        if crd is not None:
            validator = by_crd.get(id(crd))
            if validator is None:
                validator = _crd_validator(json.dumps(crd["schema"], sort_keys=True))
                by_crd[id(crd)] = validator
        else:
            validator = builtin_validator(k8s_schema, api_version, kind)
        if validator is None:
            if group in platform_groups:
                LOG.debug("%s: %s is provided by the platform; not validated", component, desc)
                continue
            problems.append(
                Problem(
                    component,
                    desc,
                    "apiVersion",
                    f"no schema for {api_version} {kind} in Kubernetes {k8s_schema} or in a "
                    "CRD of this render",
                )
            )
            continue
        for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))[:3]:
            path = ".".join(str(p) for p in err.absolute_path)
            problems.append(Problem(component, desc, path, _short(err.message)))
    return problems


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."


def is_namespaced(obj: dict[str, Any], crds: dict[tuple[str, str, str], dict[str, Any]]) -> bool:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    crd = crds.get((group, version, obj.get("kind")))
    if crd is not None:
        return crd["scope"] == "Namespaced"
    return obj.get("kind") not in CLUSTER_SCOPED


def created_namespaces(objects: list[dict[str, Any]]) -> set[str]:
    """Namespaces these objects create: Namespaces, and Profiles (one namespace each)."""
    out = set()
    for obj in objects:
        if obj.get("kind") == "Namespace" or (
            obj.get("kind") == "Profile" and str(obj.get("apiVersion", "")).startswith("kubeflow")
        ):
            out.add(obj["metadata"]["name"])
    return out


def check_platform(
    per_component: dict[str, list[dict[str, Any]]],
    crds: dict[tuple[str, str, str], dict[str, Any]],
    created: set[str],
) -> list[Problem]:
    """Problems across components: duplicates and namespaces nobody creates.

    `per_component` needs only apiVersion, kind and metadata of each object; `created`
    is every namespace the render creates (`created_namespaces`).
    """
    problems = []
    namespaces = set(BUILTIN_NAMESPACES) | created
    seen: dict[tuple[str, str, str, str], str] = {}
    for component, objects in per_component.items():
        for obj in objects:
            k = key(obj)
            if k in seen:
                problems.append(
                    Problem(
                        component,
                        describe(obj),
                        "metadata.name",
                        f"duplicate: component {seen[k]} renders the same object",
                    )
                )
            else:
                seen[k] = component
            if not is_namespaced(obj, crds):
                continue
            ns = (obj.get("metadata") or {}).get("namespace")
            if not ns:
                problems.append(
                    Problem(component, describe(obj), "metadata.namespace", "namespace not set")
                )
            elif ns not in namespaces:
                problems.append(
                    Problem(
                        component,
                        describe(obj),
                        "metadata.namespace",
                        f"namespace {ns} is neither rendered nor created by a Profile",
                    )
                )
    return problems
