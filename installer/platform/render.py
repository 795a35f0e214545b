"""`render`: spec + infrastructure outputs -> the platform tree, validated and locked.

    render(spec, infra, out, reporter)
      1. resolve and vendor the sources (release, remote bases, add-ons), verified
      2. plan the components (components.plan) and generate each one's overlay
         (features.CUSTOMIZERS)
      3. build every component with the real kustomize, in parallel (bounded by the
         cores, longest first by the time each took last), or take it from the cache
         when the digest of its inputs is known; each worker also post-renders (secrets
         out, images collected or mirrored) and validates built-in kinds, so kfstack's
         own work overlaps the other kustomize processes
      4. validate what needs the whole render: custom resources against the CRDs of
         every component (cached per inputs), duplicates and namespaces across all
      5. write platform/ (index.yaml, NNN-name/, PENDING.md) and kfstack.lock, replacing
         the previous tree only once everything above succeeded

A component's digest covers the bundle digest (every upstream source), its generated
files, the post-render settings and the kustomize version, so changing one setting
re-renders only the components it touches. The same inputs give a byte-identical tree.

Speed (scripts/bench_render.py): a cold render is kustomize's work spread over the cores
plus kfstack's own, which is kept small. Documents are read with yaml-rs (documents.py)
and an object post-render leaves untouched is written as kustomize printed it, never
dumped again; that took kfstack's work from ~4.3 s to ~1.2 s of CPU per full 26.03
render (cProfile and process times, 2026-12-03).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from installer import __version__
from installer.console import Reporter
from installer.platform import components as _components
from installer.platform import documents as _documents
from installer.platform import features as _features
from installer.platform import kustomize as _kustomize
from installer.platform import postrender as _post
from installer.platform import sources as _sources
from installer.platform import targets as _targets
from installer.platform import tree as _tree
from installer.platform import validate as _validate
from installer.platform import vendor as _vendor
from installer.spec import paths as spec_paths
from installer.spec.model import Spec
from stacks.base import InfraOutputs

LOG = logging.getLogger("kfstack.platform.render")

LOCK = "kfstack.lock"
PENDING_DOC = "PENDING.md"
UPSTREAM_LINK = "_upstream"
SHARED_COMPONENTS = "_components"
# Bump when the post-render or validation logic changes what a cached entry means.
CACHE_FORMAT = "kfstack-render-6"

PENDING_SOURCES = {
    "oidc_issuer": "the EKS cluster's OIDC issuer URL (Terraform output `oidc_issuer`)",
    "rwx_filesystem_id": "the EFS file system backing the RWX class "
    "(Terraform output `rwx_filesystem_id`)",
}


@dataclass
class Rendered:
    name: str
    folder: str
    digest: str
    requires: list[str]
    manifests: str
    secrets: list[dict[str, Any]]
    images: list[str]
    count: int
    pending: list[str]
    cached: bool
    files: dict[str, str]
    facts: dict[str, Any]
    problems: list[_validate.Problem]
    custom: list[dict[str, Any]]
    pull_namespaces: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass
class Result:
    out: Path
    components: list[Rendered]
    lock: dict[str, Any]
    pending: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "kubeflow": self.lock["kubeflow"],
            "components": [
                {
                    "name": c.name,
                    "path": c.folder,
                    "objects": c.count,
                    "secrets": len(c.secrets),
                    "digest": c.digest,
                    "cached": c.cached,
                    "pending": c.pending,
                }
                for c in self.components
            ],
            "objects": sum(c.count for c in self.components),
            "pending": self.pending,
            "lock": self.lock,
        }

    def images(self) -> list[str]:
        return sorted({img for c in self.components for img in c.images})


def sources_for(spec: Spec, *, offline: bool = False) -> _sources.Sources:
    """Where the spec's release comes from: `kubeflow.manifests` (read from the spec's
    folder when relative), else the cache or a download.

    Raises:
        UserError: `kubeflow.manifests` names no directory.
    """
    written = spec.kubeflow.manifests
    release = spec.local_path(written) if written else None
    if written and not release.is_dir():
        raise spec_paths.not_found(
            "kubeflow.manifests",
            written,
            spec.base_dir,
            hint="point kubeflow.manifests at a checkout of kubeflow/manifests at the "
            "release tag (a relative path is read from the spec's folder), or remove it "
            "to download the release",
        )
    return _sources.Sources.for_manifests(release, spec.kubeflow.version, offline=offline)


def render(
    spec: Spec,
    infra: InfraOutputs,
    out: Path,
    reporter: Reporter,
    *,
    srcs: _sources.Sources | None = None,
    jobs: int | None = None,
) -> Result:
    """Render the platform tree into `out/platform` and the lock file into `out`.

    Raises:
        UserError: a spec setting cannot be expressed, a tool is missing, or validation
            failed (each problem names component, object and field).
        BuildError: kustomize rejected a component (names the component and file).
        KfstackError: a source could not be downloaded or verified.
    """
    srcs = srcs or sources_for(spec)
    version = spec.kubeflow.version
    kz = _kustomize.find()

    reporter.line(f"sources: Kubeflow {version}")
    bundle = _vendor.prepare(srcs, version)
    ctx = _features.Context(
        spec=spec,
        infra=infra,
        profile=_targets.profile(spec.target),
        upstream=bundle.kubeflow,
        version=version,
    )
    planned = _components.plan(ctx)
    overlays = {p.name: _overlay(ctx, p) for p in planned}
    shared = _features.shared_components(ctx)
    k8s_schema = _validate.schema_version(spec.kubernetes.version)
    registry = spec.kubeflow.registry
    post_settings = {
        "mirror": registry.mirror if registry else None,
        "pull_secret": bool(registry and registry.pull_secret),
    }
    base_key = json.dumps(
        {
            "format": CACHE_FORMAT,
            "bundle": bundle.digest,
            "kustomize": kz.version,
            "post": post_settings,
            "shared": shared,
        },
        sort_keys=True,
    )

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".platform-", dir=out))
    try:
        os.symlink(bundle.root, staging / UPSTREAM_LINK, target_is_directory=True)
        for name, text in shared.items():
            (staging / SHARED_COMPONENTS / name).mkdir(parents=True)
            (staging / SHARED_COMPONENTS / name / "kustomization.yaml").write_text(text)
        jobs_n = jobs or max(1, min(4, os.cpu_count() or 1))
        folders = {p.name: f"{i * 10:03d}-{p.name}" for i, p in enumerate(planned, start=1)}
        names_in_plan = set(folders)
        works = []
        for plan in planned:
            ov = overlays[plan.name]
            files = _fill_known(_files(ov), infra)
            digest = _digest(base_key, plan, files, ov)
            requires = sorted(
                set(plan.requires) | {r for r in ov.requires if r in names_in_plan},
                key=list(folders).index,
            )
            works.append((plan, ov, files, digest, requires))

        reporter.line(f"components: {len(works)} (kustomize {kz.version}, {jobs_n} at a time)")

        results: dict[str, Rendered] = {}
        to_build = []
        for plan, ov, files, digest, requires in works:
            folder = staging / folders[plan.name]
            folder.mkdir()
            for name, text in files.items():
                (folder / name).write_text(text)
            cached = _cache_get(srcs.cache, digest)
            if cached is None:
                job = _Job(
                    plan.name,
                    str(folder),
                    kz,
                    ov.secret_sources,
                    ov.extra_secrets,
                    post_settings,
                    k8s_schema,
                    str(srcs.cache),
                    digest,
                )
                to_build.append((plan.cost, job, (plan, files, digest, requires)))
            else:
                results[plan.name] = _rendered(
                    plan, folders, files, digest, requires, cached, True
                )
                reporter.ok(f"{folders[plan.name]}: {cached['count']} objects (cached)")
        done = len(results)
        reporter.progress("components", done, len(works), "from cache")
        # Longest first, by the time each took last (else its estimated cost): the big
        # components (KServe, Training, Spark, Istio) bound the wall time, so they start
        # before the small ones fill the workers, and both cores stay busy to the end.
        costs = _Costs(srcs.cache, version)
        to_build.sort(key=lambda item: -costs.expected(item[1].name, item[0]))
        if to_build:
            with _pool(min(jobs_n, len(to_build))) as pool:
                futures = {pool.submit(_build, job): meta for _, job, meta in to_build}
                for future in as_completed(futures):
                    plan, files, digest, requires = futures[future]
                    # Through JSON as the cache stores it (the worker wrote it): a fresh
                    # build and a cached one must write byte-identical files, key order
                    # included, or a commit of the same render would differ (gitops).
                    text, seconds = future.result()
                    data = json.loads(text)
                    costs.measured[plan.name] = seconds
                    item = _rendered(plan, folders, files, digest, requires, data, False)
                    results[plan.name] = item
                    done += 1
                    reporter.ok(f"{item.folder}: {item.count} objects (built)")
                    reporter.progress("components", done, len(works), item.name)
            costs.save()

        rendered = [results[p.name] for p in planned]
        if registry is not None and registry.pull_secret is not None:
            _add_pull_secrets(rendered, _features.ref_source(registry.pull_secret))
        _check(rendered, srcs.cache, k8s_schema, ctx.profile)
        pending = _pending(rendered)
        lock = _lock(spec, bundle, kz, k8s_schema, rendered, post_settings, pending)
        _write_tree(staging, spec, rendered, pending)
        (staging / ".gitignore").write_text(f"/{UPSTREAM_LINK}\n")
        lock_tmp = out / f".{LOCK}.tmp"
        lock_tmp.write_text(
            "# Written by `kfstack render`: every version and digest in this render.\n"
            + yaml.safe_dump(lock, sort_keys=False, width=1000)
        )
        _sources.replace_dir(staging, out / "platform")
        os.replace(lock_tmp, out / LOCK)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return Result(out, rendered, lock, pending)


# ---------------------------------------------------------------------------- pieces


@dataclass
class _Job:
    """One component build, run in a worker process (picklable)."""

    name: str
    folder: str
    kustomize: _kustomize.Kustomize
    secret_sources: dict[tuple[str, str], dict[str, Any]]
    extra_secrets: list[dict[str, Any]]
    post: dict[str, Any]
    k8s_schema: str
    cache: str
    digest: str


def _build(job: _Job) -> tuple[str, float]:
    """kustomize build, post-render, built-in schema checks: the cacheable result as the
    cache's JSON (written to the render cache here, so that the parent only parses it)
    and the seconds it took.

    Objects post-render leaves untouched keep the text kustomize printed; custom
    resources are kept (as JSON) for the check against CRDs from the whole render, which
    only the parent can do.
    """
    start = time.perf_counter()
    raw = job.kustomize.build(Path(job.folder), job.name, f"platform/{Path(job.folder).name}")
    texts, objects = [], []
    for text in _documents.split(raw):
        obj = _documents.parse(text)
        if obj:
            texts.append(text)
            objects.append(obj)
    post = _post.process(
        objects,
        secret_sources=job.secret_sources,
        mirror=job.post["mirror"],
        pull_secret=job.post["pull_secret"],
    )
    builtin, custom = [], []
    for obj in post.objects:
        if _validate.builtin_validator(job.k8s_schema, obj.get("apiVersion", ""), obj["kind"]):
            builtin.append(obj)
        else:
            custom.append(obj)
    problems = _validate.check_objects(job.name, builtin, k8s_schema=job.k8s_schema, crds={})
    manifests = _documents.join(
        [
            _tree.dump_objects([obj])[len("---\n") :] if edited else texts[origin]
            for obj, origin, edited in zip(post.objects, post.origins, post.edited, strict=True)
        ]
    )
    data = {
        "manifests": manifests,
        "secrets": post.secrets + list(job.extra_secrets),
        "images": post.images,
        "pull_namespaces": post.pull_namespaces,
        "count": len(post.objects),
        "pending": _tree.pending_fields(post.objects),
        "facts": _facts(post.objects),
        "problems": [dataclasses.astuple(p) for p in problems],
        "custom": custom,
    }
    text = json.dumps(data, sort_keys=True)
    _cache_put(Path(job.cache), job.digest, text)
    return text, time.perf_counter() - start


class _Costs:
    """Seconds each component's build took last time, per release, kept in the cache
    (`render-costs.json`) to start the longest first. Components never timed are placed
    by their estimated cost from components.yaml, in the same unit."""

    FILE = "render-costs.json"

    def __init__(self, cache: Path, version: str) -> None:
        self.path = Path(cache) / self.FILE
        self.version = version
        try:
            data = json.loads(self.path.read_text())
            self.known = {k: float(v) for k, v in data.get(version, {}).items()}
        except (OSError, ValueError, AttributeError, TypeError):
            data, self.known = {}, {}
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.measured: dict[str, float] = {}

    def expected(self, name: str, estimate: int) -> float:
        # About 0.3 s per unit of estimate on an idle machine (KServe, 10, takes ~3 s).
        return self.known.get(name, estimate * 0.3)

    def save(self) -> None:
        """Best effort: a cache that cannot be written only loses the schedule hint."""
        self.data[self.version] = dict(sorted({**self.known, **self.measured}.items()))
        tmp = self.path.with_name(f".{self.FILE}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError as exc:
            LOG.debug("cannot record build times in %s: %s", self.path, exc)


def _pool(workers: int) -> ProcessPoolExecutor:
    # fork: workers inherit the loaded modules and schemas instead of re-importing them.
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"))


def _rendered(
    plan: Any,
    folders: dict[str, str],
    files: dict[str, str],
    digest: str,
    requires: list[str],
    data: dict[str, Any],
    cached: bool,
) -> Rendered:
    return Rendered(
        name=plan.name,
        folder=folders[plan.name],
        digest=digest,
        requires=requires,
        manifests=data["manifests"],
        secrets=data["secrets"],
        images=data["images"],
        count=data["count"],
        pending=data["pending"],
        cached=cached,
        files=files,
        facts=data["facts"],
        problems=[_validate.Problem(*p) for p in data["problems"]],
        custom=data["custom"],
        pull_namespaces=data["pull_namespaces"],
        reason=plan.reason,
    )


def _overlay(ctx: _features.Context, plan: _components.Planned) -> _features.Overlay:
    ov = _features.Overlay(namespace=plan.namespace)
    for path in plan.paths + plan.files:
        if path.startswith("addon:"):
            ov.resources.append(f"../{UPSTREAM_LINK}/addons/{path[len('addon:') :]}")
        else:
            ov.resources.append(f"../{UPSTREAM_LINK}/kubeflow/{path}")
    for fn in _features.CUSTOMIZERS.get(plan.name, []):
        fn(ctx, ov)
    _features.webhook_opt_out(ctx, ov)
    return ov


def _files(ov: _features.Overlay) -> dict[str, str]:
    head = (
        "# Generated by kfstack: upstream stays untouched; kfstack's changes are the files\n"
        "# beside this one. Build: kustomize build --load-restrictor LoadRestrictionsNone .\n"
    )
    files = {"kustomization.yaml": head + yaml.safe_dump(ov.kustomization(), sort_keys=False)}
    files.update(ov.files)
    return dict(sorted(files.items()))


def _fill_known(files: dict[str, str], infra: InfraOutputs) -> dict[str, str]:
    """Write the infrastructure outputs that are known (after apply) in place of their
    pending values; the rest stay `((kfstack:infra.X))` for the engine to fill."""
    known = {k: v for k, v in infra.model_dump().items() if isinstance(v, str) and v}

    def fill(match: Any) -> str:
        return known.get(match.group(1), match.group(0))

    return {name: _tree.PENDING.sub(fill, text) for name, text in files.items()}


def _digest(base_key: str, plan: Any, files: dict[str, str], ov: Any) -> str:
    hasher = hashlib.sha256(base_key.encode())
    hasher.update(plan.name.encode())
    for name, text in files.items():
        hasher.update(f"\0{name}\0{len(text)}\0".encode() + text.encode())
    extra = {
        "secret_sources": sorted([list(k), v] for k, v in ov.secret_sources.items()),
        "extra_secrets": ov.extra_secrets,
    }
    hasher.update(json.dumps(extra, sort_keys=True).encode())
    return "sha256:" + hasher.hexdigest()


def _facts(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """What cross-component checks need, small enough to cache beside the manifests."""
    crds = _validate.crd_schemas(objects)
    return {
        "objects": [
            [
                o.get("apiVersion"),
                o.get("kind"),
                (o.get("metadata") or {}).get("namespace"),
                (o.get("metadata") or {}).get("name"),
            ]
            for o in objects
        ],
        "created_namespaces": sorted(_validate.created_namespaces(objects)),
        "crds": [[list(k), v] for k, v in sorted(crds.items())],
    }


def _add_pull_secrets(rendered: list[Rendered], source: dict[str, str]) -> None:
    """One pull secret per namespace, in the first component (install order) running pods
    there, so it exists before any pod that needs it."""
    covered: set[str] = set()
    for item in rendered:
        for ns in item.pull_namespaces:
            if ns not in covered:
                covered.add(ns)
                item.secrets = [*item.secrets, _post.pull_secret_entry(ns, source)]


def _cache_path(cache: Path, digest: str) -> Path:
    return cache / "renders" / digest[7:9] / f"{digest[7:]}.json"


def _cache_get(cache: Path, digest: str) -> dict[str, Any] | None:
    path = _cache_path(cache, digest)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _cache_put(cache: Path, digest: str, text: str) -> None:
    path = _cache_path(cache, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _check(
    rendered: list[Rendered], cache: Path, k8s_schema: str, profile: _targets.TargetProfile
) -> None:
    """Validate every component (schemas; cached per inputs) and the whole (duplicates,
    namespaces). Raises ValidationFailed."""
    crds: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in rendered:
        for k, v in item.facts["crds"]:
            crds[tuple(k)] = v
    platform_groups = frozenset({"snapshot.storage.k8s.io"} if profile.platform_snapshots else ())
    problems: list[_validate.Problem] = []
    for item in rendered:
        problems.extend(item.problems)
        if not item.custom:
            continue
        gvks = {
            (
                str(o["apiVersion"]).rpartition("/")[0],
                str(o["apiVersion"]).rpartition("/")[2],
                o["kind"],
            )
            for o in item.custom
        }
        used = sorted([list(g), crds.get(g)] for g in gvks)
        key = hashlib.sha256(
            json.dumps([item.digest, sorted(platform_groups), used], sort_keys=True).encode()
        ).hexdigest()
        marker = cache / "validated" / key[:2] / key
        if marker.exists():
            continue
        found = _validate.check_objects(
            item.name,
            item.custom,
            k8s_schema=k8s_schema,
            crds=crds,
            platform_groups=platform_groups,
        )
        if found:
            problems.extend(found)
        else:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("ok\n")
    per_component = {
        item.name: [
            {"apiVersion": a, "kind": k, "metadata": {"namespace": ns, "name": n}}
            for a, k, ns, n in item.facts["objects"]
        ]
        for item in rendered
    }
    created = {ns for item in rendered for ns in item.facts["created_namespaces"]}
    problems.extend(_validate.check_platform(per_component, crds, created))
    if problems:
        raise _validate.ValidationFailed(problems)


def _pending(rendered: list[Rendered]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in rendered:
        texts = [item.manifests] + list(item.files.values())
        fields = set(item.pending)
        for text in texts:
            fields.update(_tree.PENDING.findall(text))
        item.pending = sorted(fields)
        for name in item.pending:
            out.setdefault(name, []).append(item.name)
    return dict(sorted(out.items()))


def _lock(
    spec: Spec,
    bundle: _vendor.Bundle,
    kz: _kustomize.Kustomize,
    k8s_schema: str,
    rendered: list[Rendered],
    post: dict[str, Any],
    pending: dict[str, list[str]],
) -> dict[str, Any]:
    manifest = bundle.manifest
    return {
        "apiVersion": "kfstack.dev/v1",
        "kind": "Lock",
        "kfstack": __version__,
        "platform": spec.full_name,
        "target": spec.target,
        # Sorted: the vendor manifest's key order differs between a fresh and a cached
        # vendoring, and the lock must be byte-identical for the same inputs.
        "kubeflow": {"version": spec.kubeflow.version, **_sorted(manifest["kubeflow"])},
        "remotes": _sorted(manifest["remotes"]),
        "addons": _sorted(manifest["addons"]),
        "vendor": {"bundle": bundle.digest, "rewritten": _sorted(manifest["rewritten"])},
        "kustomize": kz.version,
        "kubernetes_schemas": k8s_schema,
        "post_render": post,
        "components": {
            c.name: {"path": c.folder, "digest": c.digest, "objects": c.count} for c in rendered
        },
        "pending": {
            name: {"components": comps, "source": PENDING_SOURCES.get(name, "Terraform output")}
            for name, comps in pending.items()
        },
    }


def _sorted(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))


def _write_tree(
    root: Path, spec: Spec, rendered: list[Rendered], pending: dict[str, list[str]]
) -> None:
    comps = []
    for item in rendered:
        folder = root / item.folder
        (folder / _tree.MANIFESTS).write_text(item.manifests)
        (folder / _tree.SECRETS).write_text(
            "# Secrets by name and where each value comes from; never the values.\n"
            + yaml.safe_dump(item.secrets, sort_keys=False, width=1000)
        )
        comps.append(
            _tree.Component(
                name=item.name,
                path=item.folder,
                depends_on=item.requires,
                digest=item.digest,
                pending=item.pending,
            )
        )
    _tree.PlatformTree(root, spec.full_name, spec.kubeflow.version, comps).write_index()
    lines = ["# Pending values", ""]
    if not pending:
        lines.append("None: every value this platform needs is known.")
    else:
        lines += [
            "These values are known only once the infrastructure exists. They are written as",
            "`((kfstack:infra.<field>))` and filled from `terraform output` at apply time.",
            "",
            "| value | comes from | used by |",
            "|---|---|---|",
        ]
        for name, comps_ in pending.items():
            source = PENDING_SOURCES.get(name, f"Terraform output `{name}`")
            lines.append(f"| `{name}` | {source} | {', '.join(comps_)} |")
    (root / PENDING_DOC).write_text("\n".join(lines) + "\n")
