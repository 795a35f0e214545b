"""The simulated API server and the kube client, object by object."""

from __future__ import annotations

import base64
import itertools
import json
import stat
import sys
import time
from pathlib import Path

import pytest
import yaml

from installer import kube
from installer.engine import waits
from installer.simcluster import SimCluster

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "issuers.cert-manager.io"},
    "spec": {
        "group": "cert-manager.io",
        "names": {"kind": "Issuer", "plural": "issuers"},
        "scope": "Namespaced",
        "versions": [{"name": "v1", "served": True, "storage": True}],
    },
}
NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}}
ISSUER = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Issuer",
    "metadata": {"name": "selfsigned", "namespace": "cert-manager"},
    "spec": {"selfSigned": {}},
}


def _deployment(name: str, labels: dict[str, str], replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "cert-manager"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }


@pytest.fixture
def sim(request, tmp_path: Path):
    # 0.01: 100 simulated seconds take 1 s. Tests that check simulated times to a few
    # seconds ask for a slower clock (indirect parametrisation), so that a loaded
    # machine's late timers (tens of milliseconds) stay inside their tolerance.
    with SimCluster(clock_scale=getattr(request, "param", 0.01)) as server:
        yield server


# For tests that assert simulated times within a few seconds: 3 s is 120 ms real here.
SLOWER_CLOCK = pytest.mark.parametrize("sim", [0.04], indirect=True, ids=["scale-0.04"])


@pytest.fixture
def client(sim: SimCluster, tmp_path: Path) -> kube.KubeClient:
    return kube.connect(sim.kubeconfig(tmp_path / "kubeconfig"))


def test_a_custom_kind_is_unknown_until_its_crd_is_established(sim, client):
    sim.state.timing["crd_established"] = 100  # 1 s real: long enough to observe
    client.apply(NS, field_manager="t")
    client.apply(CRD, field_manager="t")

    with pytest.raises(kube.NoMatchError, match='no matches for kind "Issuer"'):
        client.apply(ISSUER, field_manager="t")
    waits.wait_for(
        client,
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        None,
        {CRD["metadata"]["name"]},
        waits.crd_established,
        deadline=time.monotonic() + 5,
    )

    assert client.apply(ISSUER, field_manager="t")["metadata"]["name"] == "selfsigned"


def test_a_webhook_rejects_with_the_api_servers_text_until_its_backend_serves(sim, client):
    client.apply(NS, field_manager="t")
    labels = {"app": "webhook"}
    client.apply(_deployment("cert-manager-webhook", labels), field_manager="t")
    client.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "cert-manager-webhook", "namespace": "cert-manager"},
            "spec": {"selector": labels, "ports": [{"port": 443, "targetPort": 10250}]},
        },
        field_manager="t",
    )
    client.apply(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "cert-manager-webhook"},
            "webhooks": [
                {
                    "name": "webhook.cert-manager.io",
                    "rules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["configmaps"],
                        }
                    ],
                    "clientConfig": {
                        "service": {"name": "cert-manager-webhook", "namespace": "cert-manager"}
                    },
                }
            ],
        },
        field_manager="t",
    )
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "cert-manager"},
        "data": {"a": "b"},
    }

    with pytest.raises(kube.ApiError) as rejected:
        client.apply(config, field_manager="t")
    assert rejected.value.code == 500 and rejected.value.transient
    assert rejected.value.webhook == "webhook.cert-manager.io"
    assert 'no endpoints available for service "cert-manager-webhook"' in str(rejected.value)

    # A Service serves once one of its EndpointSlices (named <service>-<suffix>) does.
    waits.wait_for(
        client,
        "discovery.k8s.io/v1",
        "EndpointSlice",
        "cert-manager",
        {"cert-manager-webhook"},
        waits.endpoint_slice_ready,
        deadline=time.monotonic() + 5,
    )
    assert client.apply(config, field_manager="t")["data"] == {"a": "b"}


def test_endpoints_are_mirrored_in_slices_and_reading_v1_endpoints_draws_the_warning(sim, client):
    client.apply(NS, field_manager="t")
    client.apply(_deployment("web", {"app": "web"}, replicas=1), field_manager="t")
    client.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "cert-manager"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
        },
        field_manager="t",
    )
    slices = client.resource("discovery.k8s.io/v1", "EndpointSlice")
    waits.wait_for(
        client,
        "discovery.k8s.io/v1",
        "EndpointSlice",
        "cert-manager",
        {"web"},
        waits.endpoint_slice_ready,
        deadline=time.monotonic() + 10,
    )
    [web] = client.list(slices, "cert-manager")["items"]
    assert web["metadata"]["name"].startswith("web-") and waits.slice_service(web) == "web"
    assert web["addressType"] == "IPv4" and web["ports"] == [{"name": "http", "port": 80}]
    assert client.warnings == {}

    client.list(client.resource("v1", "Endpoints"), "cert-manager")

    assert list(client.warnings) == [
        "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
    ]


def test_server_side_apply_reports_conflicts_between_managers_unless_forced(sim, client):
    client.apply(NS, field_manager="t")
    client.apply(_deployment("d", {"app": "d"}, replicas=1), field_manager="kfstack")
    change = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "cert-manager"},
        "spec": {"replicas": 3},
    }

    with pytest.raises(kube.ApiError, match=r'conflict with "kfstack": \.spec\.replicas'):
        client.apply(change, field_manager="hpa", force=False)
    forced = client.apply(change, field_manager="hpa", force=True)

    assert forced["spec"]["replicas"] == 3
    assert forced["spec"]["template"]["spec"]["containers"][0]["name"] == "c"


def test_deleting_a_namespace_takes_time_and_removes_its_contents(sim, client):
    client.apply(NS, field_manager="t")
    client.apply(_deployment("d", {"app": "d"}), field_manager="t")
    ns_res = client.resource("v1", "Namespace")

    client.delete(ns_res, "cert-manager")

    assert client.get(ns_res, "cert-manager")["status"]["phase"] == "Terminating"
    with pytest.raises(kube.ApiError, match="being terminated"):
        client.apply(_deployment("e", {"app": "e"}), field_manager="t")
    deadline = time.monotonic() + 5
    while client.get_or_none(ns_res, "cert-manager") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.get_or_none(ns_res, "cert-manager") is None
    assert client.list(client.resource("apps/v1", "Deployment"))["items"] == []


def test_a_restart_refuses_connections_then_serves_the_same_state(tmp_path):
    state = tmp_path / "state.json"
    with SimCluster(clock_scale=0.01, state_file=state) as sim:
        client = kube.connect(sim.kubeconfig(tmp_path / "kubeconfig"))
        client.apply(NS, field_manager="t")
        sim.restart(0.3)
        time.sleep(0.1)
        with pytest.raises(kube.ConnectionFailed):
            client.get(client.resource("v1", "Namespace"), "cert-manager")
        time.sleep(0.4)
        assert client.get(client.resource("v1", "Namespace"), "cert-manager")
    with SimCluster(clock_scale=0.01, state_file=state) as again:
        client = kube.connect(again.kubeconfig(tmp_path / "kubeconfig2"))
        assert client.get(client.resource("v1", "Namespace"), "cert-manager")


def test_gpu_nodes_advertise_nvidia_gpus(client):
    nodes = client.list(client.resource("v1", "Node"))["items"]

    gpus = [n["status"]["allocatable"].get("nvidia.com/gpu") for n in nodes]
    assert "4" in gpus


def test_throttling_answers_429_with_retry_after(tmp_path):
    from installer.simcluster import Faults

    with SimCluster(clock_scale=0.01, faults=Faults(throttle_rate=1.0, retry_after=3)) as sim:
        client = kube.connect(sim.kubeconfig(tmp_path / "kubeconfig"))
        with pytest.raises(kube.ApiError) as throttled:
            client.request("GET", "/api/v1/namespaces")
    assert (throttled.value.code, throttled.value.retry_after) == (429, 3.0)
    assert throttled.value.transient


def test_kubeconfig_exec_plugin_token_is_used_and_cached(tmp_path, sim):
    plugin = tmp_path / "token.py"
    count = tmp_path / "count"
    plugin.write_text(
        "import json, pathlib\n"
        f"p = pathlib.Path({str(count)!r}); p.write_text(str(int(p.read_text() or 0) + 1)"
        " if p.exists() else '1')\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1',"
        " 'kind': 'ExecCredential', 'status': {'token': 'k8s-aws-v1.abc',"
        " 'expirationTimestamp': '2999-01-01T00:00:00Z'}}))\n"
    )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": sim.url}}],
        "users": [
            {
                "name": "u",
                "user": {"exec": {"command": sys.executable, "args": [str(plugin)]}},
            }
        ],
        "contexts": [{"name": "eks", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "eks",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))

    cfg = kube.load_kubeconfig(path)
    assert cfg.bearer_token() == cfg.bearer_token() == "k8s-aws-v1.abc"
    assert count.read_text() == "1"
    assert kube.KubeClient(cfg).list(kube.KubeClient(cfg).resource("v1", "Node"))["items"]


def test_kubeconfig_with_inline_ca_and_client_certificate_loads(tmp_path):
    from installer.errors import UserError

    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    config = {
        "clusters": [
            {
                "name": "c",
                "cluster": {
                    "server": "https://example:6443",
                    "certificate-authority-data": base64.b64encode(pem.encode()).decode(),
                },
            }
        ],
        "users": [{"name": "u", "user": {"token": "t0ken-value"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))

    cfg = kube.load_kubeconfig(path)
    assert (cfg.server, cfg.ca_data.decode(), cfg.token) == (
        "https://example:6443",
        pem,
        "t0ken-value",
    )
    with pytest.raises(UserError, match="no context named 'nope'"):
        kube.load_kubeconfig(path, context="nope")
    assert stat.S_ISREG(path.stat().st_mode)


def _note_times(sim: SimCluster, text: str) -> list[float]:
    """Simulated seconds at which the simulator logged a note containing `text`."""
    with sim.state.lock:
        return [t / sim.state.scale for t, note in sim.state.log if text in note]


def _sim_now(sim: SimCluster) -> float:
    """The simulated time now, on the clock of `_note_times` (the last note may be older)."""
    return (time.monotonic() - sim.state.started) / sim.state.scale


def _wait_note(sim: SimCluster, text: str, count: int = 1, timeout: float = 10) -> list[float]:
    deadline = time.monotonic() + timeout
    while len(found := _note_times(sim, text)) < count:
        assert time.monotonic() < deadline, f"no {count} x {text!r} in {sim.state.log}"
        time.sleep(0.01)
    return found


def _service(name: str, labels: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "cert-manager"},
        "spec": {"selector": labels, "ports": [{"port": 3306}]},
    }


@SLOWER_CLOCK
def test_a_workload_started_before_its_database_crash_loops_and_is_ready_at_the_next_restart(
    sim, client
):
    rules = sim.state.timing["dependencies"]
    client.apply(NS, field_manager="t")
    client.apply(_service("db", {"app": "db"}), field_manager="t")
    api = _deployment("api", {"app": "api"})
    api["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "DB_HOST", "value": "db"}]
    client.apply(api, field_manager="t")

    crashes = _wait_note(sim, "cert-manager/api CrashLoopBackOff", count=3)
    client.apply(_deployment("db", {"app": "db"}), field_manager="t")
    ready = _wait_note(sim, "deployment cert-manager/api ready")[0]

    pauses = [
        int(note.rsplit(" ", 1)[1])
        for _, note in sim.state.log
        if "cert-manager/api CrashLoopBackOff" in note
    ]
    assert pauses[:4] == [10, 20, 40, 80][: len(pauses[:4])]
    assert all("cert-manager/db" in n for _, n in sim.state.log if "api CrashLoopBackOff" in n)
    db_ready = _note_times(sim, "deployment cert-manager/db ready")[0]
    starts = _note_times(sim, "cert-manager/api container start")
    first_after = next(t for t in starts if t >= db_ready + sim.state.timing["endpoints_delay"])
    assert len(starts) == len(pauses) + 1  # every restart before the last one crashed
    assert starts[-1] == first_after
    assert ready == pytest.approx(first_after + rules["restart_ready"], abs=3)
    assert crashes[1] - crashes[0] == pytest.approx(rules["crash_after"] + 10, abs=3)


@SLOWER_CLOCK
def test_a_pod_mounting_a_missing_secret_starts_at_the_kubelets_next_mount_retry(sim, client):
    client.apply(NS, field_manager="t")
    deployment = _deployment("uses-cert", {"app": "uses-cert"})
    deployment["spec"]["template"]["spec"]["volumes"] = [
        {"name": "cert", "secret": {"secretName": "late-cert"}}
    ]
    client.apply(deployment, field_manager="t")
    created = _wait_note(sim, "cert-manager/uses-cert pod created")[0]

    time.sleep(40 * sim.state.scale)  # mount retries at 0.5, 1.5, 3.5 ... 31.5, 63.5 s
    client.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "late-cert", "namespace": "cert-manager"},
            "stringData": {"tls.crt": "x"},
        },
        field_manager="t",
    )
    ready = _wait_note(sim, "deployment cert-manager/uses-cert ready")[0]

    key = ("apps", "deployments", "cert-manager", "uses-cert")
    workload = sim.state._workload_delay(sim.state.objects[key])
    assert ready - created == pytest.approx(63.5 + workload, abs=4)


def _rejected_deployment(sim, client) -> tuple[float, list[tuple[float, float]]]:
    """A Deployment whose pods name a ServiceAccount that does not exist yet: returns
    when its first creation failed and the (time, retry delay) of every failure so far."""
    client.apply(NS, field_manager="t")
    deployment = _deployment("needs-sa", {"app": "needs-sa"})
    deployment["spec"]["template"]["spec"]["serviceAccountName"] = "late-sa"
    client.apply(deployment, field_manager="t")
    first = _wait_note(sim, "cert-manager/needs-sa pod creation failed")[0]
    return first, deployment


def _failures(sim) -> list[tuple[float, float]]:
    with sim.state.lock:
        return [
            (t / sim.state.scale, float(note.rsplit(" ", 1)[1]))
            for t, note in sim.state.log
            if "needs-sa pod creation failed" in note
        ]


SA = {
    "apiVersion": "v1",
    "kind": "ServiceAccount",
    "metadata": {"name": "late-sa", "namespace": "cert-manager"},
}


@SLOWER_CLOCK
def test_a_rejected_pod_is_created_at_the_controllers_next_rate_limited_retry(sim, client):
    first, _ = _rejected_deployment(sim, client)
    time.sleep(25 * sim.state.scale)
    sa_at = _sim_now(sim)
    client.apply(SA, field_manager="t")
    created = _wait_note(sim, "cert-manager/needs-sa pod created", timeout=20)[0]

    failures = _failures(sim)
    delays = [d for _, d in failures]
    # 5 ms doubling per failure; the status write after the first failure re-adds the
    # key at once, that sync fails too (10 ms) and the queue keeps the earlier 5 ms
    # retry, so the failure after it waits 20 ms.
    assert delays[:4] == pytest.approx([0.005, 0.02, 0.04, 0.08], abs=1e-3)
    assert all(b == pytest.approx(2 * a, rel=1e-6) for a, b in itertools.pairwise(delays[1:]))
    last_at, last_delay = failures[-1]
    retry = last_at + last_delay
    assert retry > sa_at + 5  # the cause cleared well before the retry came round
    assert created == pytest.approx(retry, abs=2)
    assert created - sa_at > 5  # not at the first reconcile after the ServiceAccount


@SLOWER_CLOCK
def test_an_update_to_a_rejected_workload_retries_its_pod_creation_at_once(sim, client):
    first, deployment = _rejected_deployment(sim, client)
    time.sleep(25 * sim.state.scale)
    client.apply(SA, field_manager="t")
    failures_before = len(_failures(sim))
    deployment["metadata"]["annotations"] = {"touched": "1"}
    updated = _sim_now(sim)
    client.apply(deployment, field_manager="t")
    created = _wait_note(sim, "cert-manager/needs-sa pod created", timeout=20)[0]

    last_at, last_delay = _failures(sim)[-1]
    assert len(_failures(sim)) == failures_before
    assert last_at + last_delay > updated + 5  # the scheduled retry was still far off
    assert created - updated < 2


def _gateway_service(kind: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "gw", "namespace": "cert-manager"},
        "spec": {
            "type": kind,
            "selector": {"app": "gw"},
            "ports": [
                {"name": "http2", "port": 80, "targetPort": 8080},
                {"name": "https", "port": 443, "targetPort": 8443},
            ],
        },
    }


def test_a_load_balancer_service_gets_its_cloud_address_only_after_the_timing(sim, client):
    sim.state.load_balancer.update(seconds=100, address="hostname", region="eu-west-1")
    client.apply(NS, field_manager="t")
    created = client.apply(_gateway_service("LoadBalancer"), field_manager="t")
    services = client.resource("v1", "Service")

    assert created["status"] == {"loadBalancer": {}}
    time.sleep(0.5)  # half of the 1 s (100 simulated s)
    assert client.get(services, "gw", "cert-manager")["status"] == {"loadBalancer": {}}
    time.sleep(1.0)
    (ingress,) = client.get(services, "gw", "cert-manager")["status"]["loadBalancer"]["ingress"]
    uid = created["metadata"]["uid"].replace("-", "")
    assert ingress["hostname"].startswith(f"a{uid}"[:32] + "-")
    assert ingress["hostname"].endswith(".eu-west-1.elb.amazonaws.com")


def test_an_ip_cloud_answers_test_net_addresses_and_none_never_answers(tmp_path):
    for address, expected in (("ip", {"ip": "192.0.2.10"}), ("none", None)):
        with SimCluster(clock_scale=0.01, load_balancer={"address": address}) as sim:
            client = kube.connect(sim.kubeconfig(tmp_path / address))
            client.apply(NS, field_manager="t")
            client.apply(_gateway_service("LoadBalancer"), field_manager="t")
            time.sleep(1.0)  # 100 simulated s, past the 60 s of timing.yaml
            status = client.get(client.resource("v1", "Service"), "gw", "cert-manager")["status"]
            ingress = status["loadBalancer"].get("ingress")
            assert (ingress[0] if ingress else None) == expected, address


def test_node_ports_are_allocated_in_range_kept_across_applies_and_released(sim, client):
    client.apply(NS, field_manager="t")
    first = client.apply(_gateway_service("NodePort"), field_manager="t")
    ports = {p["name"]: p["nodePort"] for p in first["spec"]["ports"]}
    other = _gateway_service("NodePort")
    other["metadata"]["name"] = "other"
    second = client.apply(other, field_manager="t")

    assert all(30000 <= n <= 32767 for n in ports.values()) and len(set(ports.values())) == 2
    assert not {p["nodePort"] for p in second["spec"]["ports"]} & set(ports.values())
    again = client.apply(_gateway_service("NodePort"), field_manager="t")
    assert {p["name"]: p["nodePort"] for p in again["spec"]["ports"]} == ports
    cluster_ip = client.apply(_gateway_service("ClusterIP"), field_manager="t")
    assert all("nodePort" not in p for p in cluster_ip["spec"]["ports"])
