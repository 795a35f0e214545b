"""What happens to a component's objects between `kustomize build` and `manifests.yaml`.

1. Secrets leave the manifests: each Secret becomes a `secrets.yaml` entry that names
   where every value comes from. Secrets kfstack owns (Dex, oauth2-proxy ...) take the
   sources the feature code chose; any other upstream Secret gets a generated value per
   key, so no upstream default credential survives. Empty values and user names stay
   as literals (`value:`), because upstream wires them into servers that expect them
   (KFP's MySQL root user with an empty password, for instance).
2. Images: every container/initContainer image, image-named env values, `image` keys
   anywhere in a spec, and image references inside ConfigMaps that spawn pods (Jupyter
   spawner, KServe, Katib) are collected; with a registry mirror they are rewritten
   to `<mirror>/<registry>/<path>`. Kustomize's `images:` cannot reach ConfigMap data,
   which is why this is a post-render step (it is recorded in the lock file).
3. With a mirror pull secret, every pod template gets `imagePullSecrets`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

PULL_SECRET = "kfstack-registry"
_LITERAL_KEYS = re.compile(r"(^|[_-])(user|username|client-id|client_id)$", re.IGNORECASE)
_IMAGE = re.compile(
    r"^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d+)?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
_TEXT_IMAGE = re.compile(
    r"(?<![\w./-])((?:[a-z0-9-]+\.)+[a-z0-9-]+(?::\d+)?/[a-z0-9._/-]+"
    r"(?::[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64}))(?![\w./-])"
)
_HASH_SUFFIX = re.compile(r"-[a-z0-9]{10}$")
_POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod"}


@dataclass
class PostResult:
    objects: list[dict[str, Any]]
    secrets: list[dict[str, Any]]
    images: list[str] = field(default_factory=list)  # as upstream names them, sorted
    pull_namespaces: list[str] = field(default_factory=list)  # pods given the pull secret
    # Per kept object: its position among the input objects, and whether it was changed
    # (an unchanged one can be written as kustomize printed it).
    origins: list[int] = field(default_factory=list)
    edited: list[bool] = field(default_factory=list)


def secret_id(namespace: str, name: str, key: str) -> str:
    """A SecretStore id for an upstream Secret's key (stable, [a-z0-9-], <= 63 chars)."""
    raw = f"{namespace}-{name}-{key}".lower()
    slug = re.sub(r"[^a-z0-9]+", "-", raw).strip("-")
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{slug[:50].strip('-')}-{digest}"


def secret_entry(obj: dict[str, Any], sources: dict[str, Any] | None) -> dict[str, Any]:
    """The secrets.yaml entry replacing Secret `obj` (its values are dropped here)."""
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace") or "default", meta["name"]
    values: dict[str, str] = {}
    for key, val in (obj.get("data") or {}).items():
        values[key] = base64.b64decode(val or "").decode("utf-8", "replace")
    for key, val in (obj.get("stringData") or {}).items():
        values[key] = "" if val is None else str(val)
    data: dict[str, Any] = {}
    for key in sorted(set(values) | set(sources or {})):
        if sources and key in sources:
            data[key] = sources[key]
        elif values.get(key, "") == "":
            data[key] = {"value": ""}
        elif _LITERAL_KEYS.search(key):
            data[key] = {"value": values[key]}
        else:
            data[key] = {"generated": secret_id(ns, name, key)}
    entry: dict[str, Any] = {"name": name, "namespace": ns}
    if obj.get("type", "Opaque") != "Opaque":
        entry["type"] = obj["type"]
    labels = meta.get("labels")
    if labels:
        entry["labels"] = dict(labels)
    if meta.get("annotations"):
        entry["annotations"] = dict(meta["annotations"])
    entry["data"] = data
    return entry


def mirror_name(image: str, mirror: str) -> str:
    """`<mirror>/<registry>/<path>`: keeps the source registry so names cannot collide."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return f"{mirror}/{image}"
    path = image if "/" in image else f"library/{image}"
    return f"{mirror}/docker.io/{path}"


def process(
    objects: list[dict[str, Any]],
    *,
    secret_sources: dict[tuple[str, str], dict[str, Any]],
    mirror: str | None,
    pull_secret: bool,
) -> PostResult:
    kept, secrets, origins, edited = [], [], [], []
    images: set[str] = set()
    pull_namespaces: set[str] = set()
    for index, obj in enumerate(objects):
        if obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1":
            meta = obj.get("metadata") or {}
            ns, name = meta.get("namespace") or "default", str(meta.get("name"))
            # secretGenerator appends a content hash (`oauth2-proxy-h675gf55ht`); kfstack's
            # sources are keyed by the name upstream gave the generator.
            sources = secret_sources.get((ns, name)) or secret_sources.get(
                (ns, _HASH_SUFFIX.sub("", name))
            )
            secrets.append(secret_entry(obj, sources))
            continue
        changed = _walk_images(obj, images, mirror)
        if obj.get("kind") == "ConfigMap":
            changed = _configmap_images(obj, images, mirror) or changed
        if pull_secret and mirror:
            spec = pod_spec(obj)
            if spec is not None:
                spec["imagePullSecrets"] = [{"name": PULL_SECRET}]
                pull_namespaces.add((obj.get("metadata") or {}).get("namespace") or "default")
                changed = True
        kept.append(obj)
        origins.append(index)
        edited.append(changed)
    return PostResult(
        kept, secrets, sorted(images), sorted(pull_namespaces), origins=origins, edited=edited
    )


def pull_secret_entry(namespace: str, source: dict[str, str]) -> dict[str, Any]:
    """The mirror's pull secret in `namespace` (its value is referenced, never stored)."""
    return {
        "name": PULL_SECRET,
        "namespace": namespace,
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": dict(source)},
    }


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    kind = obj.get("kind")
    if kind == "Pod":
        return obj.get("spec")
    if kind == "CronJob":
        return (
            (((obj.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {})
            .get("template", {})
            .get("spec")
        )
    if kind in _POD_KINDS:
        return ((obj.get("spec") or {}).get("template") or {}).get("spec")
    return None


def _looks_like_image(value: str) -> bool:
    return (
        bool(value)
        and (":" in value or "@" in value or "/" in value)
        and bool(_IMAGE.match(value))
    )


def _walk_images(value: Any, found: set[str], mirror: str | None) -> bool:
    """Collect (and with a mirror, rewrite) the images under `value`; True if rewritten."""
    changed = False
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "image" and isinstance(item, str) and _looks_like_image(item):
                found.add(item)
                if mirror:
                    value[key] = mirror_name(item, mirror)
                    changed = True
            elif key == "env" and isinstance(item, list):
                for env in item:
                    val = env.get("value") if isinstance(env, dict) else None
                    if (
                        isinstance(val, str)
                        and "IMAGE" in str(env.get("name", "")).upper()
                        and _looks_like_image(val)
                        and "/" in val
                    ):
                        found.add(val)
                        if mirror:
                            env["value"] = mirror_name(val, mirror)
                            changed = True
                changed = _walk_images(item, found, mirror) or changed
            else:
                changed = _walk_images(item, found, mirror) or changed
    elif isinstance(value, list):
        for item in value:
            changed = _walk_images(item, found, mirror) or changed
    return changed


def _configmap_images(obj: dict[str, Any], found: set[str], mirror: str | None) -> bool:
    """Image references inside ConfigMap data (spawner options, KServe/Katib configs).

    A registry host (with a dot) and a tag or digest are required, so paths and URLs in
    other settings are not mistaken for images; the text is edited in place so
    upstream's formatting, which controllers parse, is kept.
    """
    data = obj.get("data") or {}
    changed = False
    for key, text in list(data.items()):
        if not isinstance(text, str):
            continue
        hits = sorted(set(_TEXT_IMAGE.findall(text)))
        if not hits:
            continue
        found.update(hits)
        if mirror:
            data[key] = _TEXT_IMAGE.sub(lambda m: mirror_name(m.group(1), mirror), text)
            changed = True
    return changed
