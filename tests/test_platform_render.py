"""The render matrix: every release and target, with components, auth, teams, storage,
GPUs and a registry mirror varied, renders offline and validates; object counts match
a plain `kustomize build` of the same upstream paths plus what kfstack adds."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from platform_support import (
    TARGETS,
    VERSIONS,
    all_files,
    documents,
    example,
    make_spec,
    plain_count,
    render,
)

from installer.platform import components as _components
from installer.platform import features as _features
from installer.platform import postrender as _post
from installer.platform import targets as _targets
from installer.platform import tree as _tree
from installer.platform import vendor as _vendor
from installer.platform.render import LOCK, PENDING_DOC

pytestmark = pytest.mark.integration

UPSTREAM_DEFAULTS = (
    "user@example.com",
    "$2y$12$4K/VkmDd1q1Orb3xAt82zu8gk7Ad6ReFR4LCP9UeYE90NLiN9Df72",  # its password hash
    "pUBnBOY80SnXgjibTYM9ZWNzY2xreNGQok",  # upstream's OIDC client secret
    "7d16fee92f8d11b8940b081b3f8b8acb",  # upstream's oauth2-proxy cookie secret
)
CONNECTORS = {
    "google": {"type": "google", "client_id": "g-1", "client_secret": {"env": "KF_GOOGLE"}},
    "okta": {
        "type": "okta",
        "issuer": "https://acme.okta.com",
        "client_id": "o-1",
        "client_secret": {"env": "KF_OKTA"},
    },
    "pingid": {
        "type": "pingid",
        "issuer": "https://auth.pingone.com/env-1/as",
        "client_id": "p-1",
        "client_secret": {"env": "KF_PING"},
    },
    "entra": {
        "type": "entra",
        "tenant_id": "55555555-6666-7777-8888-999999999999",
        "client_id": "e-1",
        "client_secret": {"env": "KF_ENTRA"},
    },
    "github": {
        "type": "github",
        "client_id": "gh-1",
        "client_secret": {"file": "/run/kf/github"},
        "orgs": ["acme"],
    },
    "oidc": {
        "type": "oidc",
        "issuer": "https://sso.acme.example",
        "client_id": "oidc-1",
        "client_secret": {"env": "KF_OIDC"},
    },
}


def _variant(data: dict[str, Any], index: int) -> dict[str, Any]:
    """Four variations, rotated over (version, target) so each appears for every
    release and most targets."""
    data = copy.deepcopy(data)
    kf = data.setdefault("kubeflow", {})
    if index == 1:
        kf["registry"] = {"mirror": "registry.corp:5000/kf", "pull_secret": {"env": "KF_PULL"}}
        kf["components"] = {"pipelines": False, "katib": True}
        kf["auth"] = {"connectors": [CONNECTORS["github"], CONNECTORS["oidc"]]}
        kf["domain"] = "kf.acme.example"
        kf["teams"] = [
            {
                "name": "ml",
                "owners": ["a@acme.example", "b@acme.example"],
                "members": ["c@acme.example"],
                "quota": {"cpu": "8", "memory": "32Gi", "gpu": 2},
            }
        ]
    elif index == 2:
        data["node_pools"] = [p for p in data.get("node_pools", []) if "gpu" not in p]
        for host in (data.get("baremetal") or {}).get("hosts", []):
            host.pop("gpu", None)
            host.pop("gpu_count", None)
        data.setdefault("storage", {})["rwx"] = False
        for team in kf.get("teams", []):
            team.pop("quota", None)
        kf["components"] = {"kserve": False, "training": False, "tensorboards": False}
        kf["auth"] = {"connectors": [CONNECTORS["pingid"], CONNECTORS["google"]]}
        kf["domain"] = "kf.acme.example"
    elif index == 3:
        kf["components"] = {"model_registry": True, "spark": True}
        if data["target"] != "existing":
            data.setdefault("storage", {}).update({"snapshots": True})
        kf["auth"] = {
            "admin": {"email": "root@acme.example"},
            "connectors": [CONNECTORS["entra"], CONNECTORS["okta"]],
        }
        kf["domain"] = "kf.acme.example"
    return data


@dataclass
class Case:
    version: str
    target: str
    variant: int
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.version}-{self.target}-v{self.variant}"


def _cases() -> list[Case]:
    out = []
    for vi, version in enumerate(VERSIONS):
        for ti, target in enumerate(TARGETS):
            data = example(target)
            data.setdefault("kubeflow", {})["version"] = version
            index = (vi + ti) % 4
            data = _variant(data, index)
            if version == "v1.10.2":
                data.setdefault("kubernetes", {})["version"] = "1.33"
            out.append(Case(version, target, index, data))
    return out


CASES = _cases()


@pytest.fixture(scope="session")
def rendered(tmp_path_factory, sources_for_version):
    """Each case rendered once per session: case id -> (spec, out dir, result)."""
    done: dict[str, Any] = {}

    def get(case: Case):
        if case.id not in done:
            spec = make_spec(case.data)
            out = tmp_path_factory.mktemp(case.id)
            result = render(spec, out, sources_for_version(case.version))
            done[case.id] = (spec, out, result)
        return done[case.id]

    return get


def _added(name: str, spec, profile: _targets.TargetProfile) -> int:
    """Objects kfstack adds to a component, counted from the spec on its own."""
    if name == "storage":
        count = 0 if spec.target == "existing" else 1
        count += 1 if spec.storage.rwx and spec.target != "existing" else 0
        count += 1 if spec.storage.snapshots and profile.snapshot_driver else 0
        return count
    if name == "gateway-tls":
        return 2
    if name == "teams":
        registry = spec.kubeflow.registry
        accounts = len(_features.TEAM_ACCOUNTS) if registry and registry.pull_secret else 0
        return sum(
            1 + 2 * (len(t.owners) - 1 + len(t.members)) + accounts for t in spec.kubeflow.teams
        )
    return 0


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_release_and_target_renders_offline_and_counts_match_a_plain_build(
    case, rendered, sources_for_version
):
    spec, out, result = rendered(case)
    tree = _tree.PlatformTree.open(out / "platform")
    bundle = _vendor.prepare(sources_for_version(case.version), case.version)
    ctx = _features.Context(
        spec, result_infra(spec), _targets.profile(spec.target), bundle.kubeflow, case.version
    )
    plan = {p.name: p for p in _components.plan(ctx)}
    assert [c.name for c in tree.components] == list(plan)

    for comp in tree.components:
        objects = tree.raw_objects(comp.name)
        upstream_secrets = [
            s
            for s in tree.secret_specs(comp.name)
            if s["name"] not in {"dex-connectors", _post.PULL_SECRET}
        ]
        # The upstream paths the generated kustomization really builds (after any
        # workaround), each built on its own with plain kustomize.
        kust = yaml.safe_load((out / "platform" / comp.path / "kustomization.yaml").read_text())
        refs = [r[len("../_upstream/") :] for r in kust["resources"] if r.startswith("../_up")]
        assert len(refs) == len(plan[comp.name].paths + plan[comp.name].files)
        plain = sum(plain_count(str(bundle.root), ref) for ref in refs)
        expected = plain + _added(comp.name, spec, ctx.profile)
        assert len(objects) + len(upstream_secrets) == expected, comp.name
        assert not [o for o in objects if o.get("kind") == "Secret"], comp.name


def result_infra(spec):
    from platform_support import infra_before_apply

    return infra_before_apply(spec)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_tree_expresses_the_spec(case, rendered):
    spec, out, result = rendered(case)
    root = out / "platform"
    tree = _tree.PlatformTree.open(root)
    names = [c.name for c in tree.components]
    flags = spec.kubeflow.components

    # Components on/off, and what only they needed.
    assert ("kserve" in names) == flags.kserve
    assert ("knative" in names) == flags.kserve
    assert ("training" in names) == flags.training
    assert ("pipelines" in names) == flags.pipelines
    assert ("spark" in names) == flags.spark
    assert ("model-registry" in names) == flags.model_registry
    if flags.training:
        folder = (root / tree.component("training").path / "kustomization.yaml").read_text()
        kind = "training-operator" if spec.kubeflow.version == "v1.10.2" else "trainer"
        assert f"applications/{kind}/" in folder

    every = {c.name: tree.raw_objects(c.name) for c in tree.components}
    flat = [o for objs in every.values() for o in objs]
    text = "".join(p.read_text() for p in all_files(root))

    # No upstream default user or credential survives anywhere in the render.
    for needle in UPSTREAM_DEFAULTS:
        assert needle not in text, needle

    # Target quirks.
    istio = (root / tree.component("istio").path / "kustomization.yaml").read_text()
    # GKE: upstream's gke overlay, or (v1.10.2, whose overlay is broken) its patch.
    gke = "istio-install/overlays/gke" in istio or "gke-cni.yaml" in istio
    assert gke == (spec.target == "gcp")
    oauth = (root / tree.component("oauth2-proxy").path / "kustomization.yaml").read_text()
    assert ("m2m-dex-and-eks" in oauth) == (spec.target == "aws")
    gateway = _one(flat, "Service", "istio-ingressgateway")
    assert gateway["spec"]["type"] == (
        "NodePort" if spec.target == "baremetal" else "LoadBalancer"
    )
    webhooks = [o for o in flat if o["kind"].endswith("WebhookConfiguration")]
    assert webhooks
    for hook in webhooks:
        annotations = hook["metadata"].get("annotations") or {}
        opted_out = annotations.get("admissions.enforcer/disabled") == "true"
        assert opted_out == (spec.target == "azure"), hook["metadata"]["name"]

    # Storage classes: one default RWO class where kfstack owns storage.
    classes = [
        o
        for o in flat
        if o["kind"] == "StorageClass"
        and o["metadata"]["name"] in (spec.storage.rwo_class, spec.storage.rwx_class)
    ]
    defaults = [
        c
        for c in classes
        if (c["metadata"].get("annotations") or {}).get(
            "storageclass.kubernetes.io/is-default-class"
        )
    ]
    assert len(defaults) == (0 if spec.target == "existing" else 1)
    rwx = [c for c in classes if c["metadata"]["name"] == spec.storage.rwx_class]
    assert bool(rwx) == (spec.storage.rwx and spec.target != "existing")
    if rwx and spec.target == "aws":
        assert rwx[0]["parameters"]["fileSystemId"] == "((kfstack:infra.rwx_filesystem_id))"
    snapshot = "snapshot-controller" in names
    assert snapshot == (spec.storage.snapshots and spec.target in ("aws", "baremetal"))

    # GPUs: the device plugin only where kfstack owns it, restricted to GPU pools.
    gpu_models = {p.gpu.model for p in spec.gpu_pools} | {
        h.gpu for h in (spec.baremetal.hosts if spec.baremetal else []) if h.gpu
    }
    wants_plugin = bool(gpu_models) and spec.target in ("aws", "baremetal")
    assert ("nvidia-device-plugin" in names) == wants_plugin
    if wants_plugin:
        ds = _one(flat, "DaemonSet", "nvidia-device-plugin-daemonset")
        pod = ds["spec"]["template"]["spec"]
        terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert len(terms["nodeSelectorTerms"]) == len(gpu_models) or spec.target == "baremetal"
        assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    if flags.notebooks:
        spawner = _spawner(flat)
        vendors = spawner["spawnerFormDefaults"]["gpus"]["value"]["vendors"]
        assert [v["limitsKey"] for v in vendors] == (["nvidia.com/gpu"] if gpu_models else [])
        for model in gpu_models:
            assert model in vendors[0]["uiName"]

    # Teams: a Profile each, quotas with GPUs when asked.
    profiles = {o["metadata"]["name"]: o for o in flat if o["kind"] == "Profile"}
    assert set(profiles) == {t.name for t in spec.kubeflow.teams}
    for team in spec.kubeflow.teams:
        hard = (profiles[team.name]["spec"].get("resourceQuotaSpec") or {}).get("hard", {})
        if team.quota and team.quota.gpu is not None:
            assert hard["requests.nvidia.com/gpu"] == str(team.quota.gpu)
        assert profiles[team.name]["spec"]["owner"]["name"] == team.owners[0]

    # Auth: Dex has the admin (generated password) and exactly the spec's connectors.
    dex_config = yaml.safe_load(_one(flat, "ConfigMap", "dex")["data"]["config.yaml"])
    connector_ids = [c["id"] for c in dex_config.get("connectors", [])]
    assert connector_ids == [c.connector_id for c in spec.kubeflow.auth.connectors]
    assert [p["email"] for p in dex_config["staticPasswords"]] == [spec.kubeflow.auth.admin.email]
    for conn in dex_config.get("connectors", []):
        assert conn["config"]["clientSecret"].startswith("$")
    dex_secrets = {s["name"]: s for s in tree.secret_specs("dex")}
    assert dex_secrets["dex-passwords"]["data"]["DEX_USER_PASSWORD"] == {
        "generated": "admin-password",
        "transform": "bcrypt",
    }
    (oauth_secret,) = [  # secretGenerator adds a content hash to the name
        s for s in tree.secret_specs("oauth2-proxy") if s["name"].startswith("oauth2-proxy-")
    ]
    assert oauth_secret["data"]["cookie-secret"]["generated"] == "oauth2-proxy-cookie-secret"
    # oauth2-proxy and Dex must share the one generated OIDC client secret.
    shared_client = {"generated": "oidc-client-secret"}
    assert oauth_secret["data"]["client-secret"] == shared_client
    assert dex_secrets["dex-oidc-client"]["data"]["OIDC_CLIENT_SECRET"] == shared_client

    # TLS: HTTPS on the gateway, HTTP redirects.
    gw = _one(flat, "Gateway", "kubeflow-gateway")
    servers = {s["port"]["number"]: s for s in gw["spec"]["servers"]}
    assert servers[80]["tls"] == {"httpsRedirect": True}
    assert servers[443]["tls"]["credentialName"] == _features.GATEWAY_TLS_SECRET

    # Registry mirror: every pod's images come from the mirror, with the pull secret.
    registry = spec.kubeflow.registry
    if registry is not None:
        for obj in flat:
            pod = _post.pod_spec(obj)
            if pod is None:
                continue
            for c in pod.get("containers", []) + pod.get("initContainers", []):
                assert c["image"].startswith(registry.mirror + "/"), c["image"]
            assert pod["imagePullSecrets"] == [{"name": _post.PULL_SECRET}]
        if flags.notebooks:
            image = _spawner(flat)["spawnerFormDefaults"]["image"]
            for name in [image["value"], *image["options"]]:
                assert name.startswith(registry.mirror + "/"), name
        # Pods controllers create later in team namespaces get it through their accounts.
        teams = tree.component("teams")
        pulls = {
            s["namespace"]: s["data"]
            for s in tree.secret_specs("teams")
            if s["name"] == _post.PULL_SECRET
        }
        for team in spec.kubeflow.teams:
            assert pulls[team.name] == {".dockerconfigjson": {"env": "KF_PULL"}}
            for account in ("default", "default-editor"):
                sa = [
                    o
                    for o in every[teams.name]
                    if o["kind"] == "ServiceAccount"
                    and o["metadata"] == {"name": account, "namespace": team.name}
                ]
                assert sa and sa[0]["imagePullSecrets"] == [{"name": _post.PULL_SECRET}]

    # Pending values: before apply, what only the infrastructure knows.
    lock = yaml.safe_load((out / LOCK).read_text())
    pending = set(lock["pending"])
    expect = set()
    if spec.target == "aws":
        expect.add("oidc_issuer")
        if spec.storage.rwx:
            expect.add("rwx_filesystem_id")
    assert pending == expect
    assert (root / PENDING_DOC).exists()
    assert lock["kubeflow"]["tag"] == spec.kubeflow.version
    assert lock["kubeflow"]["digest"] == lock["kubeflow"]["pinned_digest"]


def _one(objects, kind, name):
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def _spawner(objects):
    cms = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("jupyter-web-app-config")
    ]
    assert len(cms) == 1
    return yaml.safe_load(cms[0]["data"]["spawner_ui_config.yaml"])


def test_documents_helper_reads_multi_document_yaml(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("---\na: 1\n---\nb: 2\n")
    assert documents(path) == [{"a": 1}, {"b": 2}]


def test_the_matrix_covers_every_connector_and_option():
    kinds = {
        c["type"]
        for case in CASES
        for c in case.data["kubeflow"].get("auth", {}).get("connectors", [])
    }
    assert kinds >= set(CONNECTORS)
    assert {c.variant for c in CASES} == {0, 1, 2, 3}
    assert any(case.data["kubeflow"].get("registry") for case in CASES)
    assert Path  # keeps the import list honest for type hints
