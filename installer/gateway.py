"""Where users reach the platform: the ingress gateway Service's address.

The render exposes `istio-system/istio-ingressgateway` as a LoadBalancer on the clouds
and `existing`, and as a NodePort on bare metal (installer.platform.features
.gateway_service). `find(...)` reads that Service after the platform is applied:

  - LoadBalancer: status.loadBalancer.ingress[0], a hostname (EKS) or an IP (GKE,
    AKS), watched until the cloud fills it in or `timeout` passes. Cloud load
    balancers take 1-3 minutes; a timeout is reported, not raised: the install is done,
    only the address is not known yet;
  - NodePort: a Ready node's ExternalIP, else its InternalIP (else the spec's first
    bare-metal server), with the nodePort of the Service's https port.

`summary(spec, address)` turns that into what `up` prints: the dashboard URL
(https://<kubeflow.domain>/ when set, else the gateway's own address) and, with a
domain, the DNS record the domain needs (CNAME for a hostname, A for an IP).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from installer.errors import KfstackError
from installer.spec.model import Spec
from installer.verify.kube import KubeApi, wait_for

NAMESPACE = "istio-system"
SERVICE = "istio-ingressgateway"
HTTPS_PORT = 443
DEFAULT_TIMEOUT = 300.0  # seconds; cloud load balancers take 1-3 min


@dataclass(frozen=True)
class GatewayAddress:
    """The gateway Service's address as users reach it, or why there is none yet."""

    service_type: str | None  # LoadBalancer, NodePort, ClusterIP; None: no Service
    address: str | None = None  # a host name or an IP; None while pending
    port: int = HTTPS_PORT
    pending: str | None = None  # why `address` is None
    check: str = ""  # the kubectl command that shows the Service

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.address or "")
        except ValueError:
            return False
        return True

    def host_port(self, host: str | None = None) -> str:
        host = host or self.address or ""
        return host if self.port == HTTPS_PORT else f"{host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_command(kubeconfig: str | None) -> str:
    flag = f" --kubeconfig {kubeconfig}" if kubeconfig else ""
    return f"kubectl{flag} -n {NAMESPACE} get service {SERVICE}"


def find(
    kube: KubeApi,
    spec: Spec,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    kubeconfig: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> GatewayAddress:
    """The gateway's address, waiting up to `timeout` seconds for a load balancer's.

    Never raises for a missing address or an unreachable cluster: the result's `pending`
    says what is missing and `check` is the command to look again.
    """
    check = check_command(kubeconfig)
    try:
        service = kube.get("v1", "Service", SERVICE, NAMESPACE)
        if service is None:
            return GatewayAddress(
                None, pending=f"no Service {NAMESPACE}/{SERVICE} in the cluster", check=check
            )
        kind = (service.get("spec") or {}).get("type") or "ClusterIP"
        if kind == "LoadBalancer":
            return _load_balancer(kube, service, timeout, check, progress)
        if kind == "NodePort":
            return _node_port(kube, spec, service, check)
    except KfstackError as exc:
        return GatewayAddress(None, pending=f"the cluster did not answer ({exc})", check=check)
    forward = f"kubectl -n {NAMESPACE} port-forward service/{SERVICE} 8443:{HTTPS_PORT}"
    return GatewayAddress(
        kind, pending=f"the Service is {kind}, reachable only inside the cluster", check=forward
    )


def _ingress(service: dict[str, Any] | None) -> str | None:
    for ingress in ((service or {}).get("status") or {}).get("loadBalancer", {}).get(
        "ingress"
    ) or []:
        # EKS answers a hostname, GKE and AKS an IP; a hostname is the stabler of two.
        found = ingress.get("hostname") or ingress.get("ip")
        if found:
            return found
    return None


def _load_balancer(
    kube: KubeApi,
    service: dict[str, Any],
    timeout: float,
    check: str,
    progress: Callable[[float], None] | None,
) -> GatewayAddress:
    found = _ingress(service)
    deadline = time.monotonic() + timeout
    while found is None and (left := deadline - time.monotonic()) > 0:
        try:
            latest = wait_for(
                kube,
                "v1",
                "Service",
                SERVICE,
                NAMESPACE,
                lambda obj: _ingress(obj) is not None,
                timeout=left,
                progress=progress,
            )
            found = _ingress(latest)
        except TimeoutError:
            break
        except KfstackError as exc:
            # A dropped watch or connection is no answer about the load balancer: the
            # wait goes on until its deadline (then reported as pending).
            if not getattr(exc, "transient", False):
                raise
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    if found is None:
        return GatewayAddress(
            "LoadBalancer",
            pending=(
                f"the load balancer has no address after {timeout:.0f}s (clouds take 1-3 "
                "min; a cluster without a load-balancer controller never gives one)"
            ),
            check=check,
        )
    return GatewayAddress("LoadBalancer", found, HTTPS_PORT, check=check)


def _node_port(kube: KubeApi, spec: Spec, service: dict[str, Any], check: str) -> GatewayAddress:
    ports = (service.get("spec") or {}).get("ports") or []
    https = next((p for p in ports if p.get("name") == "https"), None) or next(
        (p for p in ports if p.get("port") == HTTPS_PORT), None
    )
    node_port = (https or {}).get("nodePort")
    if not node_port:
        return GatewayAddress(
            "NodePort", pending="the Service has no nodePort for https yet", check=check
        )
    address = _node_address(kube.list("v1", "Node")) or _spec_host(spec)
    if address is None:
        return GatewayAddress(
            "NodePort",
            port=int(node_port),
            pending="no node reports an address",
            check="kubectl get nodes -o wide",
        )
    return GatewayAddress("NodePort", address, int(node_port), check=check)


def _node_address(nodes: list[dict[str, Any]]) -> str | None:
    """A Ready node's ExternalIP, else its InternalIP (kube-proxy opens a NodePort on
    every node, so any Ready one serves)."""

    def ready(node: dict[str, Any]) -> bool:
        conditions = (node.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    candidates = sorted(
        (n for n in nodes if ready(n)), key=lambda n: (n.get("metadata") or {}).get("name", "")
    )
    for wanted in ("ExternalIP", "InternalIP"):
        for node in candidates:
            for entry in (node.get("status") or {}).get("addresses") or []:
                if entry.get("type") == wanted and entry.get("address"):
                    return str(entry["address"])
    return None


def _spec_host(spec: Spec) -> str | None:
    if spec.baremetal is None or not spec.baremetal.hosts:
        return None
    servers = [h for h in spec.baremetal.hosts if h.role == "server"] or spec.baremetal.hosts
    return servers[0].address


# ---------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Dashboard:
    """What `up` prints about reaching the platform."""

    url: str | None  # None: neither a domain nor a gateway address
    gateway: GatewayAddress
    dns_record: dict[str, str] | None = None  # {"name", "type", "value"} with a domain

    def to_dict(self) -> dict[str, Any]:
        return {
            "dashboard": self.url,
            "gateway_address": self.gateway.address,
            "dns_record": self.dns_record,
            "gateway": self.gateway.to_dict(),
        }

    def lines(self) -> list[tuple[str, str]]:
        """(label, text) rows for the console summary."""
        gateway = self.gateway
        rows = [("dashboard", self.url or "not known yet (see gateway)")]
        if gateway.address:
            rows.append(("gateway", f"{gateway.host_port()} ({gateway.service_type})"))
        else:
            rows.append(("gateway", f"{gateway.pending}; check: {gateway.check}"))
        if self.dns_record:
            record = self.dns_record
            rows.append(("DNS record", f"{record['name']} {record['type']} {record['value']}"))
        return rows


def summary(spec: Spec, gateway: GatewayAddress) -> Dashboard:
    """The dashboard URL and the DNS record its domain needs."""
    domain = spec.kubeflow.domain
    if domain:
        record = None
        if gateway.address:
            kind = "A" if gateway.is_ip else "CNAME"
            record = {"name": domain, "type": kind, "value": gateway.address}
        return Dashboard(f"https://{gateway.host_port(domain)}/", gateway, record)
    if gateway.address:
        return Dashboard(f"https://{gateway.host_port()}/", gateway)
    return Dashboard(None, gateway)


def wait_reporter(report: Callable[[str], None], every: float = 30.0) -> Callable[[float], None]:
    """A `progress` callback that reports the wait at most every `every` seconds."""
    last = [time.monotonic()]

    def progress(elapsed: float) -> None:
        now = time.monotonic()
        if now - last[0] >= every:
            last[0] = now
            report(f"waiting for the gateway's load balancer address ({elapsed:.0f}s)")

    return progress
