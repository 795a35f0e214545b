"""What the engine waits for before applying each object, read from manifests alone."""

from __future__ import annotations

from typing import Any

from installer.engine import needs
from installer.engine.inventory import ObjectRef


def _plural(api_version: str, kind: str) -> str:
    return kind.lower() + "s"


def _deployment(name: str, ns: str = "kubeflow", **pod: Any) -> dict[str, Any]:
    pod.setdefault("containers", [{"name": name, "image": f"example/{name}"}])
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": pod}},
    }


def _service(name: str, app: str, ns: str = "kubeflow") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": app}, "ports": [{"port": 80}]},
    }


def _namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _needs_of(graph: needs.NeedGraph, obj: dict[str, Any]) -> list[str]:
    return [needs.describe(n) for n in graph.needs[ObjectRef.of(obj)]]


def test_hosts_in_env_configmaps_and_args_become_services_to_wait_for():
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "kubeflow"},
        "data": {"dbHost": "mysql"},
    }
    app = _deployment(
        "app",
        containers=[
            {
                "name": "app",
                "image": "example/app",
                "env": [
                    {"name": "OBJECTSTORE", "value": "http://minio-service.kubeflow:9000"},
                    {
                        "name": "DB_HOST",
                        "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "dbHost"}},
                    },
                    {"name": "GREETING", "value": "cache"},  # a word, not a host variable
                ],
                "args": ["--grpc=metadata-grpc-service.kubeflow.svc.cluster.local:8080"],
            }
        ],
    )
    objects = [
        _namespace("kubeflow"),
        config,
        app,
        _service("mysql", "mysql"),
        _service("minio-service", "minio"),
        _service("metadata-grpc-service", "grpc"),
        _service("cache", "cache"),
    ]

    graph = needs.build({"app": objects}, _plural)

    serving = [n for n in _needs_of(graph, app) if n.endswith("serving")]
    assert serving == [
        "Service kubeflow/metadata-grpc-service serving",
        "Service kubeflow/minio-service serving",
        "Service kubeflow/mysql serving",
    ]
    assert "ConfigMap kubeflow/cfg applied" in _needs_of(graph, app)


def test_a_client_default_from_the_engine_data_is_a_need_and_lazy_clients_need_nothing():
    writer = _deployment("metadata-writer")
    dashboard = _deployment(
        "centraldashboard",
        containers=[
            {"name": "c", "image": "x", "env": [{"name": "KFAM", "value": "profiles-kfam:8081"}]}
        ],
    )
    objects = [
        writer,
        dashboard,
        _service("metadata-grpc-service", "grpc"),
        _service("profiles-kfam", "profiles"),
    ]

    graph = needs.build({"c": objects}, _plural)

    assert "Service kubeflow/metadata-grpc-service serving" in _needs_of(graph, writer)
    assert not [n for n in _needs_of(graph, dashboard) if n.endswith("serving")]


def test_a_service_the_workload_backs_itself_is_not_waited_for():
    server = _deployment(
        "server",
        containers=[{"name": "s", "image": "x", "args": ["--advertise=http://server:8080"]}],
    )

    graph = needs.build({"c": [server, _service("server", "server")]}, _plural)

    assert not [n for n in _needs_of(graph, server) if n.endswith("serving")]


def test_two_workloads_that_name_each_other_fall_back_to_being_applied():
    a = _deployment("a", containers=[{"name": "a", "image": "x", "args": ["http://b:80"]}])
    b = _deployment("b", containers=[{"name": "b", "image": "x", "args": ["http://a:80"]}])
    c = _deployment("c", containers=[{"name": "c", "image": "x", "args": ["http://a:80"]}])
    objects = [a, b, c, _service("a", "a"), _service("b", "b")]

    graph = needs.build({"c": objects}, _plural)

    assert not [n for n in _needs_of(graph, a) if n.endswith("serving")]
    assert not [n for n in _needs_of(graph, b) if n.endswith("serving")]
    assert {str(ref) for ref, _ in graph.cycles} == {
        "Deployment kubeflow/a",
        "Deployment kubeflow/b",
    }
    # Outside the cycle the need stays.
    assert "Service kubeflow/a serving" in _needs_of(graph, c)


def _webhook_config(kind: str, policy: str, resources: list[str], **selectors) -> dict:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": f"{kind.lower()}-{policy.lower()}"},
        "webhooks": [
            {
                "name": "hook.example.com",
                "failurePolicy": policy,
                "clientConfig": {"service": {"namespace": "hooks", "name": "hook"}},
                "rules": [
                    {
                        "apiGroups": ["", "apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": resources,
                    }
                ],
                **selectors,
            }
        ],
    }


def test_webhooks_guard_what_their_rules_and_selectors_match_and_wait_for_their_backend():
    injector = _webhook_config(
        "MutatingWebhookConfiguration",
        "Fail",
        ["pods"],
        namespaceSelector={"matchLabels": {"istio-injection": "enabled"}},
    )
    lenient = _webhook_config("ValidatingWebhookConfiguration", "Ignore", ["configmaps"])
    injected = _deployment("app", "apps")
    plain = _deployment("app", "other")
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "apps"},
    }
    objects = [
        _namespace("apps", **{"istio-injection": "enabled"}),
        _namespace("other"),
        _namespace("hooks"),
        injector,
        lenient,
        injected,
        plain,
        config,
        _deployment("hook", "hooks"),
        _service("hook", "hook", "hooks"),
    ]

    graph = needs.build({"c": objects}, _plural)

    assert "MutatingWebhookConfiguration mutatingwebhookconfiguration-fail applied" in (
        _needs_of(graph, injected)
    )
    assert not [n for n in _needs_of(graph, plain) if "Webhook" in n]
    assert not [n for n in _needs_of(graph, config) if "Webhook" in n]  # Ignore: admitted
    assert _needs_of(graph, injector) == ["Service hooks/hook serving"]
