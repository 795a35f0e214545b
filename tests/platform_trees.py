"""Rendered platform trees for the engine's tests and benchmark, built from the real
Kubeflow release manifests with real kustomize.

A stand-in for `kfstack render` (issue 5) until it lands on main: each component is
`kubectl kustomize` over the upstream paths the install notes list, with remote bases
rewritten to the offline mirror in `shared/kubeflow-manifests/remote` (or, without
../shared, read from the bundle kfstack vendors, whose URLs are already rewritten), in the
tree contract format of `installer.platform.tree`. An object that several upstream
paths render (a shared Namespace) goes to the first component that has it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from installer.platform.tree import Component, PlatformTree, digest_text, dump_objects

# name, upstream paths (alternatives separated by "|": the first that exists), depends on
COMPONENTS: list[tuple[str, list[str], list[str]]] = [
    ("namespaces", ["common/kubeflow-namespace/base"], []),
    (
        "cert-manager",
        [
            "common/cert-manager/overlays/kubeflow|common/cert-manager/base",
            "?common/cert-manager/kubeflow-issuer/base",
        ],
        [],
    ),
    (
        "istio",
        [
            "common/istio/istio-crds/base",
            "common/istio/istio-namespace/base",
            "common/istio/istio-install/overlays/oauth2-proxy",
        ],
        [],
    ),
    ("oauth2-proxy", ["common/oauth2-proxy/overlays/m2m-dex-only"], ["istio"]),
    ("dex", ["common/dex/overlays/oauth2-proxy"], ["istio"]),
    (
        "knative",
        [
            "common/knative/knative-serving/overlays/gateways",
            "common/istio/cluster-local-gateway/base",
        ],
        ["istio"],
    ),
    ("kubeflow-roles", ["common/kubeflow-roles/base"], ["namespaces"]),
    (
        "kubeflow-istio-resources",
        ["common/istio/kubeflow-istio-resources/base"],
        ["istio", "namespaces"],
    ),
    (
        "pipelines",
        [
            "applications/pipeline/overlays"
            "|applications/pipeline/upstream/env/cert-manager/platform-agnostic-multi-user"
        ],
        ["cert-manager", "istio", "namespaces"],
    ),
    ("profiles", ["applications/profiles/pss"], ["istio", "namespaces"]),
    ("user-namespace", ["common/user-namespace/base"], ["profiles"]),
    (
        "katib",
        ["applications/katib/upstream/installs/katib-with-kubeflow"],
        ["cert-manager", "istio", "user-namespace"],
    ),
    (
        "centraldashboard",
        ["applications/centraldashboard/overlays/oauth2-proxy"],
        ["istio", "namespaces"],
    ),
    (
        "admission-webhook",
        ["applications/admission-webhook/upstream/overlays/cert-manager"],
        ["cert-manager", "namespaces"],
    ),
    (
        "jupyter-web-app",
        ["applications/jupyter/jupyter-web-app/upstream/overlays/istio"],
        ["istio", "namespaces"],
    ),
    (
        "notebook-controller",
        ["applications/jupyter/notebook-controller/upstream/overlays/kubeflow"],
        ["istio", "namespaces"],
    ),
    (
        "pvcviewer-controller",
        ["applications/pvcviewer-controller/upstream/base"],
        ["cert-manager", "namespaces"],
    ),
    (
        "volumes-web-app",
        ["applications/volumes-web-app/upstream/overlays/istio"],
        ["istio", "namespaces"],
    ),
    (
        "tensorboard-controller",
        ["applications/tensorboard/tensorboard-controller/upstream/overlays/kubeflow"],
        ["istio", "namespaces"],
    ),
    (
        "tensorboards-web-app",
        ["applications/tensorboard/tensorboards-web-app/upstream/overlays/istio"],
        ["istio", "namespaces"],
    ),
    (
        "trainer",
        [
            "applications/trainer/overlays|applications/training-operator/upstream/overlays/kubeflow"
        ],
        ["cert-manager", "namespaces"],
    ),
    ("kserve", ["applications/kserve/kserve"], ["cert-manager", "knative", "istio"]),
    (
        "models-web-app",
        ["applications/kserve/models-web-app/overlays/kubeflow"],
        ["kserve", "istio"],
    ),
    ("spark", ["applications/spark/spark-operator/overlays/kubeflow"], ["istio", "namespaces"]),
]

_URL = re.compile(r"https://github\.com/[^\s\"']+")


def _rewrite_urls(root: Path, remote: Path) -> None:
    if not (remote / "index.json").exists():
        # kfstack's vendored bundle (installer.platform.vendor): URLs are already relative.
        return
    index = json.loads((remote / "index.json").read_text())
    files = {f["url"]: str(remote / f["path"]) for f in index["files"]}
    repos = [(r["url"], r["ref"], remote / r["path"]) for r in index["repositories"]]

    def local(url: str) -> str:
        if url in files:
            return files[url]
        for base, ref, path in repos:
            if url.startswith(base) and url.endswith(f"?ref={ref}"):
                sub = url[len(base) : -len(f"?ref={ref}")].lstrip("/")
                return str(path / sub)
        return url

    for kust in root.rglob("kustomization.yaml"):
        text = kust.read_text()
        if "https://github.com" in text:
            # kustomize refuses absolute paths for bases: point at the mirror relatively.
            def relative(m: re.Match[str], here: Path = kust.parent) -> str:
                target = local(m.group(0))
                return os.path.relpath(target, here) if target != m.group(0) else target

            kust.write_text(_URL.sub(relative, text))


def build_tree(
    release_dir: Path,
    remote: Path,
    out: Path,
    *,
    work: Path,
    platform: str = "test",
    components: list[str] | None = None,
) -> PlatformTree:
    """Render `release_dir`'s components into a platform tree at `out`.

    `work` receives a copy of the release with URLs rewritten (kustomize reads remote
    bases from the mirror). `components` limits the tree to those names (their
    dependencies must be among them).
    """
    src = work / "release"
    if not src.exists():
        shutil.copytree(release_dir, src)
        shutil.copytree(remote, work / "remote")
        _rewrite_urls(src, work / "remote")
    out.mkdir(parents=True, exist_ok=True)
    wanted = [c for c in COMPONENTS if components is None or c[0] in components]
    jobs = []
    for _, paths, _ in wanted:
        for slot in paths:
            choice = next((p for p in slot.lstrip("?").split("|") if (src / p).is_dir()), None)
            if choice is None and not slot.startswith("?"):
                raise FileNotFoundError(f"{release_dir}: none of {slot}")
            jobs.append(choice)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        rendered = dict(zip(jobs, pool.map(lambda p: _kustomize(src, p), jobs), strict=True))
    seen: set[tuple[str, str, str, str]] = set()
    comps: list[Component] = []
    for number, (name, paths, deps) in enumerate(wanted):
        objects = []
        for slot in paths:
            choice = next((p for p in slot.lstrip("?").split("|") if (src / p).is_dir()), None)
            for doc in rendered.get(choice) or []:
                meta = doc.get("metadata") or {}
                key = (
                    doc["apiVersion"].split("/")[0],
                    doc["kind"],
                    meta.get("namespace") or "",
                    meta.get("name"),
                )
                if key in seen:
                    continue
                seen.add(key)
                objects.append(doc)
        folder = f"{number:03d}-{name}"
        (out / folder).mkdir(exist_ok=True)
        text = dump_objects(objects)
        (out / folder / "manifests.yaml").write_text(text)
        kept = [d for d in deps if components is None or d in components]
        comps.append(Component(name, folder, kept, digest_text(text)))
    tree = PlatformTree(out, platform, release_dir.name, comps)
    tree.write_index()
    return tree


def _kustomize(src: Path, path: str | None) -> list[dict]:
    if path is None:
        return []
    proc = subprocess.run(
        ["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(src / path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def subset(tree: PlatformTree, names: list[str], out: Path) -> PlatformTree:
    """A copy of `tree` with only the components `names` (dependencies outside dropped)."""
    shutil.copytree(tree.root, out)
    comps = [
        Component(c.name, c.path, [d for d in c.depends_on if d in names], c.digest)
        for c in tree.components
        if c.name in names
    ]
    copy = PlatformTree(out, tree.platform, tree.kubeflow_version, comps)
    copy.write_index()
    return copy


def without(tree: PlatformTree, name: str, out: Path) -> PlatformTree:
    """A copy of `tree` with component `name` removed (and dependencies on it dropped)."""
    shutil.copytree(tree.root, out)
    shutil.rmtree(out / tree.component(name).path)
    comps = [
        Component(c.name, c.path, [d for d in c.depends_on if d != name], c.digest)
        for c in tree.components
        if c.name != name
    ]
    copy = PlatformTree(out, tree.platform, tree.kubeflow_version, comps)
    copy.write_index()
    return copy
