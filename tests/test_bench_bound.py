"""The benchmark's critical-path bound is a lower bound: a real engine run on the
simulator never finishes before it (scripts/bench_engine.py `critical_path`)."""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path

import pytest

from installer import engine, kube
from installer.simcluster import SimCluster
from tests.platform_trees import build_tree

SCALE = 0.01
REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.integration


def _bench():
    spec = importlib.util.spec_from_file_location("bench_engine", REPO / "scripts/bench_engine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_engine_run_finishes_before_the_object_level_critical_path(tmp_path, kubeflow_release):
    if shutil.which("kubectl") is None:
        pytest.skip("needs kubectl (kustomize)")
    release_dir, remote = kubeflow_release("26.03")
    tree = build_tree(
        release_dir,
        remote,
        tmp_path / "platform",
        work=tmp_path,
        components=["namespaces", "cert-manager", "istio", "profiles", "user-namespace"],
    )
    bench = _bench()
    bound, readme, last = bench.critical_path(tree, SCALE)
    assert 0 < readme <= bound
    # Dependency order (start a pod once what it needs serves) can only be later.
    ordered, _, _ = bench.critical_path(tree, SCALE, ordered=True)
    assert ordered >= bound
    # istiod (25 s) gates every injected pod, so the bound is well above any one delay.
    assert bound / SCALE > 25, last

    with SimCluster(clock_scale=SCALE) as sim:
        client = kube.connect(sim.kubeconfig(tmp_path / "kubeconfig"))
        start = time.monotonic()
        result = engine.apply_platform(
            tree, client, backoff=engine.Backoff(base=0.05, cap=0.5, attempts=12), timeout=60
        )
        took = time.monotonic() - start
    assert result.ok, result.table()
    assert took >= bound
