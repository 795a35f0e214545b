"""The built-in resource types the simulator serves, as discovery reports them.

Only the kinds the Kubeflow manifests and the engine use are listed; anything else
arrives as a CustomResourceDefinition and is served once that CRD is Established.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    subresources: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def discovery(self) -> list[dict]:
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        entries = [
            {
                "name": self.plural,
                "singularName": self.kind.lower(),
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": verbs,
            }
        ]
        for sub in self.subresources:
            entries.append(
                {
                    "name": f"{self.plural}/{sub}",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        return entries


def _r(gv: str, plural: str, kind: str, namespaced: bool = True, status: bool = False):
    group, _, version = gv.rpartition("/")
    return ResourceType(group, version, plural, kind, namespaced, ("status",) if status else ())


BUILTIN: tuple[ResourceType, ...] = (
    _r("v1", "namespaces", "Namespace", False, True),
    _r("v1", "nodes", "Node", False, True),
    _r("v1", "serviceaccounts", "ServiceAccount"),
    _r("v1", "configmaps", "ConfigMap"),
    _r("v1", "secrets", "Secret"),
    _r("v1", "services", "Service", status=True),
    _r("v1", "endpoints", "Endpoints"),
    _r("discovery.k8s.io/v1", "endpointslices", "EndpointSlice"),
    _r("v1", "pods", "Pod", status=True),
    _r("v1", "persistentvolumeclaims", "PersistentVolumeClaim", status=True),
    _r("v1", "persistentvolumes", "PersistentVolume", False, True),
    _r("v1", "resourcequotas", "ResourceQuota", status=True),
    _r("v1", "limitranges", "LimitRange"),
    _r("apps/v1", "deployments", "Deployment", status=True),
    _r("apps/v1", "statefulsets", "StatefulSet", status=True),
    _r("apps/v1", "daemonsets", "DaemonSet", status=True),
    _r("batch/v1", "jobs", "Job", status=True),
    _r("batch/v1", "cronjobs", "CronJob", status=True),
    _r("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", status=True),
    _r("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", status=True),
    _r("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy"),
    _r("networking.k8s.io/v1", "ingresses", "Ingress", status=True),
    _r("rbac.authorization.k8s.io/v1", "roles", "Role"),
    _r("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding"),
    _r("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", False),
    _r("storage.k8s.io/v1", "storageclasses", "StorageClass", False),
    _r("storage.k8s.io/v1", "csidrivers", "CSIDriver", False),
    _r("coordination.k8s.io/v1", "leases", "Lease"),
    _r(
        "apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        True,
    ),
    _r(
        "admissionregistration.k8s.io/v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    _r(
        "admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    _r(
        "admissionregistration.k8s.io/v1",
        "validatingadmissionpolicies",
        "ValidatingAdmissionPolicy",
        False,
        True,
    ),
    _r(
        "admissionregistration.k8s.io/v1",
        "validatingadmissionpolicybindings",
        "ValidatingAdmissionPolicyBinding",
        False,
    ),
    _r("apiregistration.k8s.io/v1", "apiservices", "APIService", False, True),
)
