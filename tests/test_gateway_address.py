"""Where users reach the platform (`installer.gateway`), read from the ingress gateway
Service on the simulated API server: a cloud's load balancer (hostname or IP), bare
metal's NodePort, and a load balancer that never gets an address."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES

from installer import gateway, kube
from installer.simcluster import SimCluster
from installer.spec import parse_spec
from installer.verify.kube import RestKube

AWS = parse_spec((EXAMPLES / "aws.yaml").read_text()).spec  # kubeflow.domain is set
BAREMETAL = parse_spec((EXAMPLES / "baremetal.yaml").read_text()).spec  # no domain
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}}


def _service(kind: str) -> dict:
    # The ports of upstream's istio-ingressgateway (common/istio/istio-install/base).
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
        "spec": {
            "type": kind,
            "selector": {"app": "istio-ingressgateway"},
            "ports": [
                {"name": "status-port", "port": 15021, "targetPort": 15021},
                {"name": "http2", "port": 80, "targetPort": 8080},
                {"name": "https", "port": 443, "targetPort": 8443},
            ],
        },
    }


def _node(name: str, ready: bool, **addresses: str) -> dict:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {
            "addresses": [{"type": t, "address": a} for t, a in addresses.items()],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def _cluster(tmp_path: Path, service: str | None, **options) -> tuple[SimCluster, RestKube]:
    sim = SimCluster(clock_scale=0.01, **options).start()
    client = kube.connect(sim.kubeconfig(tmp_path / "kubeconfig"))
    client.apply(NAMESPACE, field_manager="test")
    if service is not None:
        client.apply(_service(service), field_manager="test")
    return sim, RestKube(client, runs_workloads=False)


@pytest.fixture
def cluster(tmp_path):
    started: list[SimCluster] = []

    def make(service: str | None, **options) -> RestKube:
        sim, api = _cluster(tmp_path, service, **options)
        started.append(sim)
        api.sim = sim  # type: ignore[attr-defined]
        return api

    yield make
    for sim in started:
        sim.stop()


def test_an_eks_load_balancer_is_waited_for_and_its_hostname_needs_a_cname(cluster):
    api = cluster("LoadBalancer", load_balancer={"address": "hostname", "region": "eu-west-1"})
    before = api.get("v1", "Service", "istio-ingressgateway", "istio-system")
    assert before["status"] == {"loadBalancer": {}}  # the simulated cloud is still at work

    found = gateway.find(api, AWS, timeout=20, kubeconfig="/w/kubeconfig")
    shown = gateway.summary(AWS, found)

    assert re.fullmatch(r"a[0-9a-f]{31}-\d+\.eu-west-1\.elb\.amazonaws\.com", found.address)
    assert (found.service_type, found.port, found.pending) == ("LoadBalancer", 443, None)
    assert shown.url == "https://kubeflow.example.com/"
    assert shown.dns_record == {
        "name": "kubeflow.example.com",
        "type": "CNAME",
        "value": found.address,
    }
    assert shown.to_dict()["gateway_address"] == found.address
    assert ("DNS record", f"kubeflow.example.com CNAME {found.address}") in shown.lines()


def test_a_gke_or_aks_load_balancer_ip_is_the_dashboard_without_a_domain_or_an_a_record(
    cluster,
):
    api = cluster("LoadBalancer", load_balancer={"address": "ip"})
    found = gateway.find(api, BAREMETAL, timeout=20)

    assert found.address == "192.0.2.10" and found.is_ip
    assert gateway.summary(BAREMETAL, found).url == "https://192.0.2.10/"
    assert gateway.summary(BAREMETAL, found).dns_record is None
    assert gateway.summary(AWS, found).dns_record == {
        "name": "kubeflow.example.com",
        "type": "A",
        "value": "192.0.2.10",
    }


def test_a_load_balancer_that_gets_no_address_is_reported_after_the_deadline(cluster):
    api = cluster("LoadBalancer", load_balancer={"address": "none"})
    started = time.monotonic()
    found = gateway.find(api, BAREMETAL, timeout=1.5, kubeconfig="/w/kubeconfig")
    waited = time.monotonic() - started
    shown = gateway.summary(BAREMETAL, found)

    assert 1.4 <= waited < 10, waited
    assert found.address is None and "no address after 2s" in found.pending
    assert found.check == "kubectl --kubeconfig /w/kubeconfig -n istio-system get service " + (
        "istio-ingressgateway"
    )
    assert shown.url is None and shown.to_dict()["gateway_address"] is None
    assert dict(shown.lines())["gateway"].endswith(f"; check: {found.check}")
    # With a domain the dashboard is known; the record waits for the address.
    assert gateway.summary(AWS, found).url == "https://kubeflow.example.com/"
    assert gateway.summary(AWS, found).dns_record is None


def test_the_wait_survives_the_api_server_dropping_the_watch(cluster):
    api = cluster("LoadBalancer", load_balancer={"address": "ip", "seconds": 150})
    threading.Timer(0.3, api.sim.restart, args=(0.5,)).start()  # down from 0.3 s to 0.8 s

    found = gateway.find(api, AWS, timeout=20)

    assert found.address == "192.0.2.10", found.pending


def test_bare_metal_nodeport_is_a_ready_nodes_external_ip_and_the_https_node_port(cluster):
    nodes = [
        _node("a-down", False, ExternalIP="203.0.113.9", InternalIP="10.0.0.9"),
        _node("b-up", True, InternalIP="10.0.0.5", ExternalIP="203.0.113.5"),
        _node("c-up", True, InternalIP="10.0.0.6"),
    ]
    api = cluster("NodePort", nodes=nodes)
    service = api.get("v1", "Service", "istio-ingressgateway", "istio-system")
    https = next(p["nodePort"] for p in service["spec"]["ports"] if p["name"] == "https")

    found = gateway.find(api, BAREMETAL, timeout=0)

    assert 30000 <= https <= 32767
    assert (found.service_type, found.address, found.port) == ("NodePort", "203.0.113.5", https)
    assert gateway.summary(BAREMETAL, found).url == f"https://203.0.113.5:{https}/"


def test_nodeport_without_node_addresses_uses_the_bare_metal_server_from_the_spec(cluster):
    api = cluster("NodePort", nodes=[_node("n", True)])
    found = gateway.find(api, BAREMETAL, timeout=0)

    assert found.address == "192.0.2.10"  # the spec's server host, not an agent
    assert found.port >= 30000


def test_no_gateway_service_is_reported_not_raised(cluster):
    found = gateway.find(cluster(None), AWS, timeout=5)

    assert found.service_type is None and found.address is None
    assert "no Service istio-system/istio-ingressgateway" in found.pending
