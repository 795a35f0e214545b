"""A simulated Kubernetes API server. It is a simulator, not Kubernetes.

No API server can run on the machines kfstack is developed and tested on (no container
runtime, no kube-apiserver binary), so tests, the engine benchmark and the sandbox mode
of `kfstack up` talk to this instead. It speaks the subset of the REST API the engine
uses (discovery, get/list/watch, server-side apply, create, delete, status) and
simulates what makes Kubeflow installs hard: CRDs Established after a delay, webhooks
that reject objects until their backend has ready endpoints, workloads ready after
component-specific delays (pods that crash-loop with the kubelet's back-off while a
Service they need has no endpoints, or wait for a late Secret at mount retries),
<<<<<<< HEAD
Certificates and Profiles reconciled by their controllers, slowly terminating
namespaces, and injected faults (5xx, 429, dropped connections, slow answers, a
restart). Like the real server it sends a `Warning: 299` header with each request to a
CRD version marked `deprecated: true`. Timings live in `timing.yaml`, scaled by
`clock_scale`.
=======
Certificates and Profiles reconciled by their controllers, LoadBalancer Services given
an address by a simulated cloud and NodePorts allocated, slowly terminating namespaces,
and injected faults (5xx, 429, dropped connections, slow answers, a restart). Timings
live in `timing.yaml`, scaled by `clock_scale`.
>>>>>>> f-gateway

    with SimCluster(clock_scale=0.01) as sim:
        sim.kubeconfig(tmp / "kubeconfig")
"""

from installer.simcluster.server import Faults, SimCluster
from installer.simcluster.state import ClusterState, load_timing

__all__ = ["ClusterState", "Faults", "SimCluster", "load_timing"]
