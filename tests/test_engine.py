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


@pytest.fixture(scope="module")
def installed_2603(trees, tmp_path_factory):
    """One full 26.03 install on its own simulator, shared by the tests that read it."""
    sim = SimCluster(clock_scale=SCALE).start()
    try:
        client = kube.connect(sim.kubeconfig(tmp_path_factory.mktemp("kc") / "kubeconfig"))
        tree = trees("26.03")
        yield tree, sim, _apply(tree, client)
    finally:
        sim.stop()


def _first_rv(sim: SimCluster, plural: str, namespace: str, name: str, test=None) -> int:
    """The resourceVersion at which the simulator first held that object (passing `test`)."""
    with sim.state.lock:
        for rv, _, rtype, ns, obj in sim.state.events:
            if (rtype.plural, ns, obj["metadata"]["name"]) == (plural, namespace, name):
                if test is None or test(obj):
                    return rv
    raise AssertionError(f"{plural} {namespace}/{name} never seen")


def _serving(obj) -> bool:
    return any(s.get("addresses") for s in obj.get("subsets") or [])


def test_the_full_2603_platform_converges_in_dependency_order(installed_2603):
    tree, sim, result = installed_2603

    assert result.ok, result.table()
    assert all(c.state == "converged" for c in result.components.values())
    # Objects go out as soon as what they need exists, so a component may start before
    # its dependencies are ready; it is reported ready only after them.
    events = result.events
    for comp in tree.components:
        for dep in comp.depends_on:
            assert _first(events, dep, "ready") <= _first(events, comp.name, "ready"), (
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


def test_no_pod_of_the_2603_install_is_rejected_or_crash_loops(installed_2603):
    _, sim, result = installed_2603

    assert result.ok, result.table()
    with sim.state.lock:
        loops = [text for _, text in sim.state.log if "CrashLoopBackOff" in text]
        rejected = [text for _, text in sim.state.log if "pod creation failed" in text]
        starts = [text for _, text in sim.state.log if "container start #" in text]
    assert starts  # the simulator did play the containers
    assert loops == []
    assert rejected == []
    assert all(text.endswith("#0") for text in starts), starts


def test_a_workload_is_created_only_once_the_services_it_reaches_serve(installed_2603):
    _, sim, _ = installed_2603

    # metadata-grpc names mysql in its env; metadata-writer's client defaults to
    # metadata-grpc-service (the engine's data/needs.yaml).
    mysql = _first_rv(sim, "endpoints", "kubeflow", "mysql", _serving)
    grpc = _first_rv(sim, "deployments", "kubeflow", "metadata-grpc-deployment")
    assert mysql < grpc
    grpc_serving = _first_rv(sim, "endpoints", "kubeflow", "metadata-grpc-service", _serving)
    assert grpc_serving < _first_rv(sim, "deployments", "kubeflow", "metadata-writer")


def test_a_deployment_mounting_a_certificates_secret_is_created_after_the_secret(
    installed_2603,
):
    _, sim, _ = installed_2603

    secret = _first_rv(sim, "secrets", "kubeflow", "katib-webhook-cert")
    assert secret < _first_rv(sim, "deployments", "kubeflow", "katib-controller")


def test_a_pod_in_an_injected_namespace_is_not_created_before_the_injector_serves(
    installed_2603,
):
    _, sim, result = installed_2603

    injector = _first_rv(sim, "mutatingwebhookconfigurations", "", "istio-sidecar-injector")
    assert _first_rv(sim, "endpoints", "istio-system", "istiod", _serving) < injector
    assert injector < _first_rv(sim, "deployments", "kubeflow", "mysql")
    assert any(
        c == "pipelines"
        and "Deployment kubeflow/mysql: applying once" in text
        and "istio-sidecar-injector" in text
        for _, c, text in result.events
    )


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
    tree = _broken_profiles(trees("26.03", SMALL), tmp_path / "platform")
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


def _broken_profiles(source: PlatformTree, root: Path) -> PlatformTree:
    """A copy of `source` whose profiles Deployment the API server rejects (422)."""
    shutil.copytree(source.root, root)
    tree = PlatformTree.open(root)
    manifests = root / tree.component("profiles").path / "manifests.yaml"
    docs = [d for d in yaml.safe_load_all(manifests.read_text()) if d]
    for doc in docs:
        if doc["kind"] == "Deployment":
            doc["spec"]["template"]["spec"]["containers"] = []
    manifests.write_text(yaml.safe_dump_all(docs))
    return tree


def test_an_object_needing_a_failed_components_service_fails_at_once_not_at_its_deadline(
    trees, cluster, tmp_path
):
    tree = _broken_profiles(trees("26.03", SMALL), tmp_path / "platform")
    manifests = tmp_path / "platform" / tree.component("spark").path / "manifests.yaml"
    docs = [d for d in yaml.safe_load_all(manifests.read_text()) if d]
    controller = next(d for d in docs if d["kind"] == "Deployment")
    container = controller["spec"]["template"]["spec"]["containers"][0]
    container.setdefault("env", []).append(
        {"name": "KFAM_URL", "value": "http://profiles-kfam.kubeflow.svc.cluster.local:8081"}
    )
    manifests.write_text(yaml.safe_dump_all(docs))
    sim, client = cluster()

    # A deadline far beyond the test's patience: only the stop can end the wait.
    result = engine.apply_platform(tree, client, backoff=BACKOFF, timeout=3600)

    spark = result.components["spark"]
    assert spark.state == "failed"
    assert f"Deployment kubeflow/{controller['metadata']['name']}" in spark.error
    assert "Service kubeflow/profiles-kfam serving" in spark.error
    assert "component profiles stopped" in spark.error
    assert result.components["istio"].state == "converged"


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


def test_a_rotated_secret_value_alone_reapplies_its_component(trees, cluster, tmp_path):
    from installer.secrets import SecretStore

    root = tmp_path / "platform"
    shutil.copytree(trees("26.03", ["namespaces"]).root, root)
    tree = PlatformTree.open(root)
    value = tmp_path / "client-secret"
    value.write_text("first-value")
    (root / tree.component("namespaces").path / "secrets.yaml").write_text(
        yaml.safe_dump(
            [{"name": "oidc", "namespace": "kubeflow", "data": {"secret": {"file": str(value)}}}]
        )
    )
    store = SecretStore(tmp_path / "wd" / "secrets")
    sim, client = cluster()
    assert _apply(tree, client, store=store).ok
    assert _apply(tree, client, store=store).components["namespaces"].state == "unchanged"

    value.write_text("rotated-value")
    result = _apply(tree, client, store=store)

    assert result.components["namespaces"].state == "converged"
    secret = client.get(client.resource("v1", "Secret"), "oidc", "kubeflow")
    assert secret["data"]["secret"] == "cm90YXRlZC12YWx1ZQ=="  # base64 of rotated-value
    key = store.path(engine.apply.DIGEST_KEY)
    assert key.stat().st_mode & 0o777 == 0o600


def test_the_api_servers_deprecation_warnings_reach_the_summary_once_each(
    trees, cluster, tmp_path
):
    # cert-manager's ClusterIssuer CRD, with its served version marked deprecated as a CRD
    # author would: the API server then warns on every request to that version.
    source = trees("26.03", ["namespaces", "cert-manager"])
    shutil.copytree(source.root, tmp_path / "platform")
    tree = PlatformTree.open(tmp_path / "platform")
    manifests = tmp_path / "platform" / tree.component("cert-manager").path / "manifests.yaml"
    docs = [d for d in yaml.safe_load_all(manifests.read_text()) if d]
    crd = next(
        d
        for d in docs
        if d["kind"] == "CustomResourceDefinition"
        and d["metadata"]["name"] == "clusterissuers.cert-manager.io"
    )
    for version in crd["spec"]["versions"]:
        version["deprecated"] = True
        version["deprecationWarning"] = 'cert-manager.io/v1 "ClusterIssuer" is going away'
    issuers = [d for d in docs if d["kind"] == "ClusterIssuer"]
    assert issuers, "the 26.03 cert-manager component has no ClusterIssuer to apply"
    manifests.write_text(yaml.safe_dump_all(docs))
    sim, client = cluster()

    class Recorder(Reporter):
        def __init__(self) -> None:
            self.warnings: list[str] = []

        def warn(self, text: str) -> None:
            self.warnings.append(text)

    reporter = Recorder()
    result = engine.apply_platform(tree, client, backoff=BACKOFF, timeout=60, reporter=reporter)

    assert result.ok
    text = 'cert-manager.io/v1 "ClusterIssuer" is going away'
    assert list(result.api_warnings) == [text]
    assert result.api_warnings[text] >= len(issuers)
    assert [w for w in reporter.warnings if "API server warned" in w] == [
        f"the API server warned ({result.api_warnings[text]} times): {text}"
        if result.api_warnings[text] > 1
        else f"the API server warned: {text}"
    ]
    assert result.to_dict()["api_warnings"] == [{"text": text, "count": result.api_warnings[text]}]


def test_an_install_without_deprecated_apis_reports_no_api_warnings(trees, cluster):
    sim, client = cluster()
    result = _apply(trees("26.03", ["namespaces", "cert-manager"]), client)
    assert result.ok and result.api_warnings == {}
