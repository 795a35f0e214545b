"""`RestKube` lets the verify checks run over the install engine's REST client, shown here
against the simulated API server (which serves the API but runs no pods)."""

from __future__ import annotations

import pytest
from verify_specs import a10_spec

from installer import verify
from installer.spec import parse_spec
from installer.verify.kube import KubeApi, RestKube, wait_for

kube_mod = pytest.importorskip("installer.kube", reason="the REST client (issue 6) is not merged")
simcluster = pytest.importorskip(
    "installer.simcluster", reason="the simulated API server (issue 6) is not merged"
)

SPEC = a10_spec("research")


@pytest.fixture
def sim_kube(tmp_path):
    with simcluster.SimCluster(clock_scale=0.01) as sim:
        path = sim.kubeconfig(tmp_path / "kubeconfig")
        yield RestKube(kube_mod.connect(path), runs_workloads=False)


def test_rest_kube_satisfies_the_protocol_and_round_trips_objects(sim_kube):
    assert isinstance(sim_kube, KubeApi)
    sim_kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kv"}})
    meta = {"name": "kv", "namespace": "kv"}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    sim_kube.create(cm | {"data": {"a": "1"}})
    assert sim_kube.get("v1", "ConfigMap", "kv", "kv")["data"] == {"a": "1"}
    assert [o["metadata"]["name"] for o in sim_kube.list("v1", "ConfigMap", "kv")] == ["kv"]
    assert sim_kube.get("v1", "ConfigMap", "absent", "kv") is None
    sim_kube.delete("v1", "ConfigMap", "absent", "kv")  # a missing object is no error
    sim_kube.delete("v1", "ConfigMap", "kv", "kv")
    wait_for(sim_kube, "v1", "ConfigMap", "kv", "kv", lambda o: o is None, timeout=10)


def test_on_the_simulated_cluster_no_gpu_check_pretends_to_have_run(sim_kube):
    report = verify.run(parse_spec(SPEC).spec, sim_kube, verify.VerifyOptions(checks=("gpu",)))
    results = {c.name: (c.result, c.reason) for c in report.checks}
    assert results["gpu-nodes:a10"] == ("not-run", "the simulated cluster has no nodes")
    assert results["gpu-job:a10"][0] == "not-run"
    assert report.failed == []
