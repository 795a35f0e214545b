"""The install engine on the simulated cluster, with trees built from the real Kubeflow
release manifests by real kustomize (see tests/platform_trees.py)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import yaml

from installer import engine, kube
from installer.console import Reporter
from installer.platform import vendor
from installer.platform.tree import PlatformTree
from installer.simcluster import Faults, SimCluster
from tests.platform_trees import build_tree, subset, without

SCALE = 0.01  # 1 simulated second = 10 ms
BACKOFF = engine.Backoff(base=0.05, cap=0.5, attempts=12)
SMALL = ["namespaces", "cert-manager", "istio", "profiles", "user-namespace", "katib", "spark"]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def trees(tmp_path_factory: pytest.TempPathFactory, kubeflow_release):
    cache: dict[tuple[str, tuple[str, ...] | None], PlatformTree] = {}

    def get(release: str, components: list[str] | None = None) -> PlatformTree:
        key = (release, tuple(components) if components else None)
        if (release, None) not in cache:
            if shutil.which("kubectl") is None:
                pytest.skip("needs kubectl (kustomize) to build the trees")
            release_dir, remote = kubeflow_release(release)
            work = tmp_path_factory.mktemp(f"work-{release}")
            cache[(release, None)] = build_tree(release_dir, remote, work / "platform", work=work)
        if key not in cache:
            out = tmp_path_factory.mktemp("subset") / "platform"
            cache[key] = subset(cache[(release, None)], list(components or []), out)
        return cache[key]

    return get


@pytest.fixture
def cluster(tmp_path: Path):
    sims: list[SimCluster] = []

    def start(**kwargs) -> tuple[SimCluster, kube.KubeClient]:
        sim = SimCluster(clock_scale=SCALE, **kwargs).start()
        sims.append(sim)
        return sim, kube.connect(sim.kubeconfig(tmp_path / f"kubeconfig-{len(sims)}"))

    yield start
    for sim in sims:
        sim.stop()


def _apply(tree: PlatformTree, client: kube.KubeClient, **kwargs) -> engine.ApplyResult:
    return engine.apply_platform(tree, client, backoff=BACKOFF, timeout=60, **kwargs)


def _labelled(sim: SimCluster, component: str) -> list[tuple]:
    with sim.state.lock:
        return sorted(
            key
            for key, stored in sim.state.objects.items()
            if (stored.meta.get("labels") or {}).get("kfstack.dev/component") == component
            and not stored.meta.get("deletionTimestamp")
        )


def _first(events, component: str, text: str) -> float:
    return next(t for t, c, e in events if c == component and e == text)


def test_a_tree_builds_from_the_bundle_kfstack_vendors_when_there_is_no_shared_copy(
    tmp_path, sources_for_version
):
    # Without ../shared, `kubeflow_release` hands build_tree kfstack's vendored bundle:
    # no remote index.json, remote URLs already relative. Trainer pulls JobSet remotely.
    if shutil.which("kubectl") is None:
        pytest.skip("needs kubectl (kustomize) to build the trees")
    bundle = vendor.prepare(sources_for_version("26.03"), "26.03")
    tree = build_tree(
        bundle.kubeflow,
        bundle.root / "remote",
        tmp_path / "platform",
        work=tmp_path,
        components=["namespaces", "trainer"],
    )
    text = (tree.root / tree.component("trainer").path / "manifests.yaml").read_text()
    assert "name: jobsets.jobset.x-k8s.io" in text


def test_the_full_2603_platform_converges_in_dependency_order(trees, cluster):
    tree = trees("26.03")
    sim, client = cluster()

    result = _apply(tree, client)

    assert result.ok, result.table()
    assert all(c.state == "converged" for c in result.components.values())
    events = result.events
    for comp in tree.components:
        for dep in comp.depends_on:
            assert _first(events, dep, "ready") <= _first(events, comp.name, "started"), (
                comp.name,
                dep,
            )
    # What the simulator saw matches: the user's Profile became a namespace, KServe's
    # webhook-validated runtimes were admitted, cert-manager issued certificates.
    with sim.state.lock:
        assert ("", "namespaces", "", "kubeflow-user-example-com") in sim.state.objects
        runtimes = [k for k in sim.state.objects if k[1] == "clusterservingruntimes"]
        assert runtimes
    assert any("certificate" in text and "ready" in text for _, text in sim.state.log)


@pytest.mark.parametrize("release", ["v1.10.2", "v1.11.0"])
def test_the_older_releases_converge_too(trees, cluster, release):
    sim, client = cluster()

    result = _apply(trees(release), client)

    assert result.ok, result.table()


def test_an_install_with_10_percent_transient_failures_still_converges(trees, cluster, caplog):
    tree = trees("26.03")
    faults = Faults(error_rate=0.04, throttle_rate=0.03, drop_rate=0.03, retry_after=0, seed=7)
    sim, client = cluster(faults=faults)

    with caplog.at_level("INFO", logger="kfstack"):
        result = _apply(tree, client)

    assert result.ok, result.table()
    failed = [r for r in sim.requests if r[2] in (0, 429, 503)]
    assert len(failed) > 50  # the faults really happened
    assert "retrying in" in caplog.text


class _StopAfter(Reporter):
    """Sets `stop` once `count` components converged: an interruption mid-install."""

    def __init__(self, stop: threading.Event, count: int) -> None:
        self.stop, self.count, self.seen = stop, count, 0

    def ok(self, text: str) -> None:
        self.seen += 1
        if self.seen >= self.count:
            self.stop.set()


def test_a_stopped_install_resumes_and_reapplies_only_what_was_missing(trees, cluster):
    tree = trees("26.03", SMALL)
    sim, client = cluster()
    stop = threading.Event()

    with pytest.raises(engine.apply.Interrupted):
        _apply(tree, client, reporter=_StopAfter(stop, 3), stop=stop, concurrency=2)
    first = {n for n, c in _converged_inventory(client, tree).items() if c}
    assert 3 <= len(first) < len(SMALL)

    result = _apply(tree, client)

    assert result.ok, result.table()
    for name, comp in result.components.items():
        if name in first:
            assert (comp.state, comp.applied) == ("unchanged", 0), name
        else:
            assert comp.state == "converged"
            assert comp.applied == len(tree.objects(name)), name


def _converged_inventory(client: kube.KubeClient, tree: PlatformTree) -> dict[str, bool]:
    records = engine.apply.inv.read_all(client, tree.platform)
    return {name: rec.state == "converged" for name, rec in records.items()}


def test_a_rerun_of_a_converged_platform_applies_nothing(trees, cluster):
    tree = trees("26.03", SMALL)
    sim, client = cluster()
    assert _apply(tree, client).ok

    result = _apply(tree, client)

    assert {c.state for c in result.components.values()} == {"unchanged"}
    assert sum(c.applied for c in result.components.values()) == 0


def test_rendering_without_a_component_prunes_exactly_its_objects(trees, cluster, tmp_path):
    tree = trees("26.03", SMALL)
    sim, client = cluster()
    assert _apply(tree, client).ok
    before = {c: _labelled(sim, c) for c in SMALL}
    assert before["spark"]

    result = _apply(without(tree, "spark", tmp_path / "platform"), client)

    assert result.ok, result.table()
    assert result.pruned_components == ["spark"]
    assert _labelled(sim, "spark") == []
    for name in SMALL:
        if name != "spark":
            assert _labelled(sim, name) == before[name], name


def test_a_permanent_error_stops_its_component_and_dependents_only(trees, cluster, tmp_path):
    source = trees("26.03", SMALL)
    root = tmp_path / "platform"
    shutil.copytree(source.root, root)
    tree = PlatformTree.open(root)
    manifests = root / tree.component("profiles").path / "manifests.yaml"
    docs = [d for d in yaml.safe_load_all(manifests.read_text()) if d]
    for doc in docs:
        if doc["kind"] == "Deployment":
            doc["spec"]["template"]["spec"]["containers"] = []
    manifests.write_text(yaml.safe_dump_all(docs))
    sim, client = cluster()

    result = _apply(tree, client)

    assert not result.ok
    states = {n: c.state for n, c in result.components.items()}
    assert states["profiles"] == "failed"
    assert states["user-namespace"] == "skipped"
    assert states["katib"] == "skipped"  # depends on user-namespace
    assert states["istio"] == states["cert-manager"] == states["spark"] == "converged"
    error = result.components["profiles"].error
    assert "Deployment kubeflow/profiles-deployment" in error
    assert "422" in error and "containers" in error


def test_plan_lists_creations_then_nothing_after_apply(trees, cluster):
    tree = trees("26.03", ["namespaces", "cert-manager"])
    sim, client = cluster()

    before = engine.plan_platform(tree, client)
    assert sum(len(p.create) for p in before) == sum(
        len(tree.objects(c.name)) for c in tree.components
    )
    assert _apply(tree, client).ok
    after = engine.plan_platform(tree, client)

    assert all(p.empty for p in after), [p.to_dict() for p in after if not p.empty]


def _spec_for(tmp_path: Path, kubeconfig: Path) -> Path:
    spec = yaml.safe_load((Path(__file__).parent.parent / "examples/existing.yaml").read_text())
    spec["existing"].update(kubeconfig=str(kubeconfig), context="simcluster")
    path = tmp_path / "kfstack.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_apply_only_platform_converges_then_exits_1_naming_a_broken_object(
    trees, cluster, tmp_path
):
    from click.testing import CliRunner

    from installer.cli import cli

    sim, _ = cluster()
    spec = _spec_for(tmp_path, sim.kubeconfig(tmp_path / "kubeconfig"))
    workdir = tmp_path / "wd"
    workdir.mkdir()
    shutil.copytree(trees("26.03", ["namespaces", "cert-manager"]).root, workdir / "platform")
    args = ["apply", "--only", "platform", "-c", str(spec), "--workdir", str(workdir), "--yes"]

    ok = CliRunner().invoke(cli, args)
    assert ok.exit_code == 0, ok.output
    assert "cert-manager" in ok.output and "converged" in ok.output

    manifests = next((workdir / "platform").glob("*-cert-manager/manifests.yaml"))
    docs = [d for d in yaml.safe_load_all(manifests.read_text()) if d]
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "cert-manager-webhook":
            doc["spec"]["template"]["spec"]["containers"] = []
    manifests.write_text(yaml.safe_dump_all(docs))
    broken = CliRunner().invoke(cli, args)

    assert broken.exit_code == 1, broken.output
    assert "Deployment cert-manager/cert-manager-webhook" in broken.output
