"""kfstack's own choices, expressed as generated overlays over the untouched release.

Each function here contributes to one component's `Overlay`: generated resources,
patches named by what they do (`gateway-nodeport.yaml`, `dex-connectors.yaml`),
configMapGenerator merges, kustomize components, and where Secret values come from.
`CUSTOMIZERS` maps a component to its contributors; `render` calls them in order and
writes the result as the component's `kustomization.yaml`. Upstream files are never
edited: every difference from the release is a file in the rendered tree a reviewer
can read.

Values only the infrastructure knows are written as pending values
(`((kfstack:infra.<field>))`); secret values never appear here, only their sources.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from installer.errors import UserError
from installer.platform import postrender as _post
from installer.platform.targets import TargetProfile
from installer.spec.model import Spec
from stacks import pools as _pools
from stacks.base import InfraOutputs

DEX_ISSUER = "http://dex.auth.svc.cluster.local:5556/dex"
GATEWAY_TLS_SECRET = "kubeflow-gateway-tls"
SELF_SIGNED_ISSUER = "kfstack-self-signed"
ACME_ISSUER = "kfstack-acme"
# The label the stacks put on every node of a pool (stacks/pools.py), used when the
# outputs of the infrastructure are not known yet.
POOL_LABEL = _pools.LABEL_POOL
# Who installs the driver, as the stacks report it: only on these does kfstack bring
# the device plugin (bare metal's host drivers).
KFSTACK_PLUGIN_DRIVERS = ("kfstack", "host")
_UPSTREAM = "_upstream"  # the tree's link to the vendored sources (render.UPSTREAM_LINK)


@dataclass
class GpuPool:
    name: str
    model: str
    count: int
    labels: dict[str, str]
    taints: list[dict[str, str]]
    needs_plugin: bool


@dataclass
class Context:
    spec: Spec
    infra: InfraOutputs
    profile: TargetProfile
    upstream: Path  # the vendored release (bundle/kubeflow)
    version: str

    @property
    def domain(self) -> str | None:
        return self.spec.kubeflow.domain

    def gpu_pools(self) -> list[GpuPool]:
        """GPU pools from the infrastructure outputs, or from the spec before apply."""
        if self.infra.gpu_pools:
            return [
                GpuPool(
                    p.name,
                    p.gpu_model,
                    p.gpu_count,
                    dict(p.labels) or {POOL_LABEL: p.name},
                    [dict(t) for t in p.taints],
                    p.driver in KFSTACK_PLUGIN_DRIVERS or self.profile.plugin_with_platform_driver,
                )
                for p in self.infra.gpu_pools
            ]
        pools = []
        for pool in self.spec.gpu_pools:
            assert pool.gpu is not None
            pools.append(
                GpuPool(
                    pool.name,
                    pool.gpu.model,
                    pool.gpu.count,
                    {POOL_LABEL: pool.name, **pool.labels},
                    [t.model_dump() for t in pool.effective_taints],
                    self.profile.plugin_with_platform_driver,
                )
            )
        if self.spec.baremetal is not None:
            for host in self.spec.baremetal.hosts:
                if host.gpu:
                    # Host drivers on bare metal: kfstack installs the device plugin.
                    pools.append(
                        GpuPool(
                            host.name,
                            host.gpu,
                            host.gpu_count,
                            {"kubernetes.io/hostname": host.name, **host.labels},
                            [],
                            True,
                        )
                    )
        return pools


@dataclass
class Overlay:
    """One component's generated kustomization and the files beside it."""

    resources: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    patches: list[dict[str, Any]] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    config_maps: list[dict[str, Any]] = field(default_factory=list)
    namespace: str | None = None
    # (namespace, name) -> {key: source}: where an upstream Secret's values come from.
    secret_sources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    extra_secrets: list[dict[str, Any]] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_resource(self, filename: str, objects: list[dict[str, Any]], why: str) -> None:
        self.files[filename] = _yaml_docs(objects, why)
        self.resources.append(filename)

    def add_patch(
        self, filename: str, patch: Any, why: str, target: dict[str, str] | None = None
    ) -> None:
        self.files[filename] = _yaml_docs(patch if isinstance(patch, list) else [patch], why)
        entry: dict[str, Any] = {"path": filename}
        if target:
            entry["target"] = target
        self.patches.append(entry)

    def kustomization(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
        }
        if self.namespace:
            data["namespace"] = self.namespace
        data["resources"] = list(self.resources)
        if self.components:
            data["components"] = list(self.components)
        if self.config_maps:
            data["configMapGenerator"] = list(self.config_maps)
            data["generatorOptions"] = {}
        if self.patches:
            data["patches"] = list(self.patches)
        return data


def _yaml_docs(objects: list[Any], why: str) -> str:
    head = "".join(f"# {line}\n" for line in why.strip().splitlines())
    body = "---\n".join(yaml.safe_dump(o, sort_keys=False, width=1000) for o in objects)
    return head + body


# ---------------------------------------------------------------------------- storage


def storage(ctx: Context, ov: Overlay) -> None:
    """Default RWO class, the RWX class when asked, a VolumeSnapshotClass with snapshots."""
    spec, prof = ctx.spec, ctx.profile
    objs: list[dict[str, Any]] = []
    existing = spec.existing
    if prof.rwo is not None and not (existing and existing.rwo_class):
        # Kubernetes (1.26+) uses the newest default class when several are marked, so
        # this one wins over GKE's and AKS's own defaults without editing them.
        objs.append(_storage_class(spec.storage.rwo_class, prof.rwo, default=True, expand=True))
    if spec.storage.rwx and not (existing and existing.rwx_class):
        objs.append(_storage_class(spec.storage.rwx_class, prof.rwx_class(spec), default=False))
    if spec.storage.snapshots and prof.snapshot_driver:
        objs.append(
            {
                "apiVersion": "snapshot.storage.k8s.io/v1",
                "kind": "VolumeSnapshotClass",
                "metadata": {"name": "kfstack-snapshots"},
                "driver": prof.snapshot_driver,
                "deletionPolicy": "Delete",
            }
        )
        if not prof.platform_snapshots:
            ov.requires.append("snapshot-controller")
    if not objs:
        ov.notes.append("the cluster's own storage classes are used (existing target)")
        return
    ov.add_resource(
        "storage-classes.yaml",
        objs,
        f"Storage classes for {prof.name}: RWO default"
        + (", RWX" if spec.storage.rwx else "")
        + (", snapshots" if spec.storage.snapshots else ""),
    )


def _storage_class(name: str, cls: Any, *, default: bool, expand: bool = False) -> dict:
    obj: dict[str, Any] = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": cls.provisioner,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": cls.binding,
    }
    if default:
        obj["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    if cls.parameters:
        obj["parameters"] = dict(cls.parameters)
    if cls.mount_options:
        obj["mountOptions"] = list(cls.mount_options)
    if expand:
        obj["allowVolumeExpansion"] = True
    return obj


# ---------------------------------------------------------------------------- gpu


def device_plugin(ctx: Context, ov: Overlay) -> None:
    """Land the static NVIDIA device plugin on GPU pools only, tolerating their taints."""
    pools = [p for p in ctx.gpu_pools() if p.needs_plugin]
    terms = [
        {
            "matchExpressions": [
                {"key": k, "operator": "In", "values": [v]} for k, v in sorted(p.labels.items())
            ]
        }
        for p in pools
    ]
    tolerations = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    for pool in pools:
        for taint in pool.taints:
            tol = {"key": taint["key"], "operator": "Exists", "effect": taint["effect"]}
            if tol not in tolerations:
                tolerations.append(tol)
    patch = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "nvidia-device-plugin-daemonset", "namespace": "kube-system"},
        "spec": {
            "template": {
                "spec": {
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": terms
                            }
                        }
                    },
                    "tolerations": tolerations,
                }
            }
        },
    }
    ov.add_patch(
        "gpu-pools-only.yaml",
        patch,
        "The static manifest runs on every node; restrict it to GPU pools and tolerate\n"
        "their taints (a plugin that does not tolerate the taint never lands: "
        "nebari-dev/nebari#3074).",
    )


def spawner_gpus(ctx: Context, ov: Overlay) -> None:
    """Offer the GPU models present in the Jupyter spawner (none: hide the GPU field)."""
    source = (
        ctx.upstream
        / "applications/jupyter/jupyter-web-app/upstream/base/configs/spawner_ui_config.yaml"
    )
    # libyaml: the spawner config is large, and the pure-Python loader took ~0.1 s of
    # every render before the builds start (cProfile, 2026-12-03).
    config = yaml.load(source.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    gpus = config["spawnerFormDefaults"]["gpus"]
    models = sorted({p.model for p in ctx.gpu_pools()})
    if models:
        gpus["readOnly"] = False
        gpus["value"]["vendors"] = [
            {"limitsKey": "nvidia.com/gpu", "uiName": f"NVIDIA {' / '.join(models)}"}
        ]
        # GPU pools are tainted; without a toleration a notebook asking for a GPU stays
        # Pending (EKS and GKE do not enable ExtendedResourceToleration for us).
        taints = {(t["key"], t["effect"]) for p in ctx.gpu_pools() for t in p.taints}
        taints.add(("nvidia.com/gpu", "NoSchedule"))
        config["spawnerFormDefaults"].setdefault("tolerationGroup", {"value": ""})
        config["spawnerFormDefaults"]["tolerationGroup"]["options"] = [
            {
                "groupKey": "kfstack-gpu",
                "displayName": f"GPU nodes ({', '.join(models)})",
                "tolerations": [
                    {"key": k, "operator": "Exists", "effect": e} for k, e in sorted(taints)
                ],
            }
        ]
    else:
        gpus["readOnly"] = True
        gpus["value"]["vendors"] = []
    gpus["value"]["vendor"] = ""
    gpus["value"]["num"] = "none"
    # No comment in this file: it becomes the ConfigMap's data verbatim.
    ov.files["spawner_ui_config.yaml"] = yaml.safe_dump(config, sort_keys=False, width=1000)
    ov.config_maps.append(
        {
            "name": "jupyter-web-app-config",
            "namespace": "kubeflow",
            "behavior": "merge",
            "files": ["spawner_ui_config.yaml"],
        }
    )


# ---------------------------------------------------------------------------- gateway


def gke_cni(ctx: Context, ov: Overlay) -> None:
    """GKE's read-only /opt/cni/bin needs upstream's `gke` Istio overlay
    (kubeflow/manifests#3061). v1.10.2's overlay points at a folder that does not exist
    (`../../oauth2-proxy`), so there kfstack builds the oauth2-proxy overlay and applies
    the same CNI patch itself; the release's own overlay is used wherever it builds."""
    if ctx.profile.istio_overlay != "gke":
        return
    overlay = ctx.upstream / "common/istio/istio-install/overlays/gke"
    refs = (yaml.safe_load((overlay / "kustomization.yaml").read_text()) or {}).get(
        "resources", []
    )
    if all((overlay / ref).exists() for ref in refs):
        return
    broken = f"../{_UPSTREAM}/kubeflow/common/istio/istio-install/overlays/gke"
    ov.resources = [
        r.replace(broken, broken.replace("/gke", "/oauth2-proxy")) for r in ov.resources
    ]
    patch = yaml.safe_load((overlay / "gke-cni-patch.yaml").read_text())
    ov.add_patch(
        "gke-cni.yaml",
        patch,
        "GKE mounts /opt/cni/bin read-only; istio-cni writes to /home/kubernetes/bin.\n"
        "Upstream's gke overlay in this release refers to a missing folder, so its patch is\n"
        "applied here (remove once the release's overlay builds).",
    )


def gateway_service(ctx: Context, ov: Overlay) -> None:
    """Expose the ingress gateway: a cloud load balancer, or NodePorts on bare metal."""
    kind = "LoadBalancer" if ctx.infra.load_balancer else "NodePort"
    ov.add_patch(
        f"gateway-{kind.lower()}.yaml",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
            "spec": {"type": kind},
        },
        "Upstream leaves the gateway ClusterIP (port-forward); expose it as " + kind + ".",
    )


def gateway_hosts(ctx: Context, ov: Overlay) -> None:
    """HTTPS on the gateway with a redirect from HTTP (the dashboard's CSRF cookie needs it)."""
    hosts = [ctx.domain or "*"]
    patch = {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "Gateway",
        "metadata": {"name": "kubeflow-gateway", "namespace": "kubeflow"},
        "spec": {
            "servers": [
                {
                    "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                    "hosts": hosts,
                    "tls": {"httpsRedirect": True},
                },
                {
                    "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                    "hosts": hosts,
                    "tls": {"mode": "SIMPLE", "credentialName": GATEWAY_TLS_SECRET},
                },
            ]
        },
    }
    ov.add_patch(
        "gateway-https.yaml",
        patch,
        "Serve the dashboard over HTTPS; plain HTTP breaks its CSRF cookie\n"
        "(kubeflow/manifests#2225).",
    )


def gateway_tls(ctx: Context, ov: Overlay) -> None:
    """The gateway's certificate: cert-manager with ACME or a self-signed issuer."""
    tls = ctx.spec.kubeflow.tls
    if tls.issuer == "acme":
        if not ctx.domain or not tls.acme_email:
            raise UserError(
                "kubeflow.tls.issuer acme needs kubeflow.domain and kubeflow.tls.acme_email",
                hint="set both, or use issuer: self-signed",
            )
        issuer = {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": ACME_ISSUER},
            "spec": {
                "acme": {
                    "email": tls.acme_email,
                    "server": tls.acme_server,
                    "privateKeySecretRef": {"name": "kfstack-acme-account"},
                    "solvers": [{"http01": {"ingress": {"ingressClassName": "istio"}}}],
                }
            },
        }
        issuer_name = ACME_ISSUER
    else:
        issuer = {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": SELF_SIGNED_ISSUER},
            "spec": {"selfSigned": {}},
        }
        issuer_name = SELF_SIGNED_ISSUER
    host = ctx.domain or "kubeflow.local"
    cert = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "kubeflow-gateway", "namespace": "istio-system"},
        "spec": {
            "secretName": GATEWAY_TLS_SECRET,
            "commonName": host,
            "dnsNames": [host],
            "issuerRef": {"kind": "ClusterIssuer", "name": issuer_name},
        },
    }
    ov.requires.append("istio")
    ov.add_resource(
        "gateway-certificate.yaml",
        [issuer, cert],
        f"The gateway's TLS certificate for {host} from a {tls.issuer} issuer.",
    )


# ---------------------------------------------------------------------------- auth


def oauth2_proxy(ctx: Context, ov: Overlay) -> None:
    """Secure cookies behind HTTPS; generated client and cookie secrets; EKS m2m issuer."""
    literals = ["FORCE_HTTPS=true"]
    issuer = ctx.profile.m2m_issuer
    if issuer:
        literals.append(f"EXTRA_JWT_ISSUERS={issuer}=https://kubernetes.default.svc")
        ov.patches.append(
            {
                "patch": f"- op: replace\n  path: /spec/jwtRules/0/issuer\n  value: {issuer}\n",
                "target": {
                    "group": "security.istio.io",
                    "kind": "RequestAuthentication",
                    "name": "m2m-token-issuer",
                    "namespace": "istio-system",
                },
            }
        )
    ov.config_maps.append(
        {
            "name": "oauth2-proxy-parameters",
            "namespace": "oauth2-proxy",
            "behavior": "merge",
            "literals": literals,
        }
    )
    ov.secret_sources[("oauth2-proxy", "oauth2-proxy")] = {
        "client-id": {"value": "kubeflow-oidc-authservice"},
        "client-secret": {"generated": "oidc-client-secret"},
        "cookie-secret": {"generated": "oauth2-proxy-cookie-secret", "length": 32},
    }


def _connector_env(conn: Any) -> str:
    return re.sub(r"[^A-Z0-9]", "_", f"{conn.connector_id}_CLIENT_SECRET".upper())


def _dex_connector(ctx: Context, conn: Any) -> dict[str, Any]:
    redirect = f"https://{ctx.domain}/dex/callback"
    secret = f"${_connector_env(conn)}"
    config: dict[str, Any] = {
        "clientID": conn.client_id,
        "clientSecret": secret,
        "redirectURI": redirect,
    }
    kind = "oidc"
    if conn.type == "google":
        kind = "google"
        if conn.hosted_domains:
            config["hostedDomains"] = list(conn.hosted_domains)
    elif conn.type == "github":
        kind = "github"
        if conn.orgs:
            config["orgs"] = [{"name": org} for org in conn.orgs]
    elif conn.type == "entra":
        kind = "microsoft"
        config["tenant"] = conn.tenant_id or "organizations"
    else:  # okta, pingid (PingOne is generic OIDC), oidc
        config["issuer"] = conn.issuer
        config["scopes"] = ["openid", "profile", "email", "groups"]
        config["insecureEnableGroups"] = True
        config["getUserInfo"] = True
    return {
        "type": kind,
        "id": conn.connector_id,
        "name": conn.name or conn.type.capitalize(),
        "config": config,
    }


def dex(ctx: Context, ov: Overlay) -> None:
    """Dex with the spec's connectors and a static admin whose password kfstack generates.

    Upstream's default user (user@example.com) and its hash are replaced, not kept.
    Connector client secrets reach Dex as `$ENV` expansions from the `dex-connectors`
    Secret, whose values are referenced (env/file) and resolved at apply time.
    """
    auth = ctx.spec.kubeflow.auth
    if not auth.admin.enabled and not auth.connectors:
        raise UserError(
            "kubeflow.auth: no static admin and no connectors, so nobody could sign in",
            hint="enable kubeflow.auth.admin or add a connector",
        )
    if auth.connectors and not ctx.domain:
        raise UserError(
            "kubeflow.domain is required with kubeflow.auth.connectors: identity providers "
            "redirect to https://<domain>/dex/callback",
            hint="set kubeflow.domain to the dashboard's host name",
        )
    source = ctx.upstream / "common/dex/overlays/oauth2-proxy/config-map.yaml"
    upstream_cm = yaml.safe_load(source.read_text())
    config = yaml.safe_load(upstream_cm["data"]["config.yaml"])
    config["enablePasswordDB"] = auth.admin.enabled
    config["staticPasswords"] = []
    if auth.admin.enabled:
        user_id = hashlib.sha256(auth.admin.email.encode()).hexdigest()[:16]
        config["staticPasswords"] = [
            {
                "email": auth.admin.email,
                "hashFromEnv": "DEX_USER_PASSWORD",
                "username": auth.admin.email.split("@")[0],
                "userID": user_id,
            }
        ]
    connectors = [_dex_connector(ctx, c) for c in auth.connectors]
    if connectors:
        config["connectors"] = connectors
    config.setdefault("logger", {})["level"] = "info"
    ov.add_patch(
        "dex-config.yaml",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "dex", "namespace": "auth"},
            "data": {"config.yaml": yaml.safe_dump(config, sort_keys=False, width=1000)},
        },
        "Dex: the static admin (password generated by kfstack) and the spec's connectors;\n"
        "upstream's default user is removed.",
    )
    env_from = [
        {"secretRef": {"name": "dex-oidc-client"}},
        {"secretRef": {"name": "dex-passwords"}},
    ]
    if connectors:
        env_from.append({"secretRef": {"name": "dex-connectors"}})
        ov.extra_secrets.append(
            {
                "name": "dex-connectors",
                "namespace": "auth",
                "data": {
                    _connector_env(c): ref_source(c.client_secret)
                    for c in auth.connectors
                    if c.client_secret is not None
                },
            }
        )
    ov.add_patch(
        "dex-connector-secrets.yaml",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "dex", "namespace": "auth"},
            "spec": {"template": {"spec": {"containers": [{"name": "dex", "envFrom": env_from}]}}},
        },
        "Connector client secrets as environment variables Dex expands in its config.",
    )
    ov.secret_sources[("auth", "dex-passwords")] = {
        "DEX_USER_PASSWORD": {"generated": "admin-password", "transform": "bcrypt"}
    }
    ov.secret_sources[("auth", "dex-oidc-client")] = {
        "OIDC_CLIENT_ID": {"value": "kubeflow-oidc-authservice"},
        "OIDC_CLIENT_SECRET": {"generated": "oidc-client-secret"},
    }


def ref_source(ref: Any) -> dict[str, str]:
    """A SecretRef as a secrets.yaml source."""
    return {"env": ref.env} if ref.env else {"file": ref.file}


# ---------------------------------------------------------------------------- teams


def _safe(email: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", email.lower()).strip("-")


def teams(ctx: Context, ov: Overlay) -> None:
    """A Profile per team (owner, quota) and its members as contributors."""
    objs: list[dict[str, Any]] = []
    for team in ctx.spec.kubeflow.teams:
        profile: dict[str, Any] = {
            "apiVersion": "kubeflow.org/v1",
            "kind": "Profile",
            "metadata": {"name": team.name},
            "spec": {"owner": {"kind": "User", "name": team.owners[0]}},
        }
        hard = _quota(team.quota)
        if hard:
            profile["spec"]["resourceQuotaSpec"] = {"hard": hard}
        objs.append(profile)
        for email in [*team.owners[1:], *team.members]:
            role = "admin" if email in team.owners else "edit"
            name = f"user-{_safe(email)}-clusterrole-{role}"
            annotations = {"role": role, "user": email}
            objs.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {"name": name, "namespace": team.name, "annotations": annotations},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": f"kubeflow-{role}",
                    },
                    "subjects": [
                        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": email}
                    ],
                }
            )
            objs.append(
                {
                    "apiVersion": "security.istio.io/v1beta1",
                    "kind": "AuthorizationPolicy",
                    "metadata": {"name": name, "namespace": team.name, "annotations": annotations},
                    "spec": {
                        "action": "ALLOW",
                        "rules": [
                            {
                                "when": [
                                    {
                                        "key": "request.headers[kubeflow-userid]",
                                        "values": [email],
                                    }
                                ]
                            }
                        ],
                    },
                }
            )
    ov.add_resource(
        "teams.yaml",
        objs,
        "One Profile per team (the profile controller creates its namespace), members as\n"
        "contributors (RoleBinding + AuthorizationPolicy, as the dashboard creates them).",
    )
    team_pull_secrets(ctx, ov)


# Pods that controllers create later in a team namespace run as one of these: notebooks,
# pipeline runs (multi-user KFP) and Katib trials as default-editor, KServe predictors and
# anything without serviceAccountName as default.
TEAM_ACCOUNTS = ("default", "default-editor")


def team_pull_secrets(ctx: Context, ov: Overlay) -> None:
    """The mirror's pull secret in every team namespace, on the ServiceAccounts its pods use.

    The render gives its own pod templates `imagePullSecrets`, but notebooks, pipeline runs
    and predictors are created later by controllers. Kubernetes adds a ServiceAccount's
    `imagePullSecrets` to every pod that runs as it (the ServiceAccount admission plugin),
    so patching the accounts reaches those pods. The profile controller creates
    default-editor only when it is missing and never updates it (kubeflow/dashboard,
    profile-controller `updateServiceAccount`), so kfstack's apply does not fight it; the
    `default` account is kube-controller-manager's, which likewise only creates it.
    """
    registry = ctx.spec.kubeflow.registry
    if registry is None or registry.pull_secret is None or not ctx.spec.kubeflow.teams:
        return
    source = ref_source(registry.pull_secret)
    accounts = []
    for team in ctx.spec.kubeflow.teams:
        ov.extra_secrets.append(_post.pull_secret_entry(team.name, source))
        for account in TEAM_ACCOUNTS:
            accounts.append(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": account, "namespace": team.name},
                    "imagePullSecrets": [{"name": _post.PULL_SECRET}],
                }
            )
    ov.add_resource(
        "team-pull-secrets.yaml",
        accounts,
        f"Pods that controllers create in team namespaces pull from {registry.mirror}\n"
        "through the accounts they run as (notebooks, pipeline runs, predictors).",
    )


def _quota(quota: Any) -> dict[str, Any]:
    if quota is None:
        return {}
    hard: dict[str, Any] = {}
    if quota.cpu:
        hard["requests.cpu"] = quota.cpu
    if quota.memory:
        hard["requests.memory"] = quota.memory
    if quota.gpu is not None:
        hard["requests.nvidia.com/gpu"] = str(quota.gpu)
    if quota.storage:
        hard["requests.storage"] = quota.storage
    return hard


# ---------------------------------------------------------------------------- registry


def webhook_opt_out(ctx: Context, ov: Overlay) -> None:
    """AKS's admissions enforcer skips webhooks unless they opt out (deployKF#61)."""
    if not ctx.profile.webhook_annotations:
        return
    ov.components.append("../_components/aks-admissions-enforcer-opt-out")


def shared_components(ctx: Context) -> dict[str, str]:
    """Kustomize components shared by several folders: path -> kustomization text."""
    out: dict[str, str] = {}
    annotations = ctx.profile.webhook_annotations
    if annotations:
        patches = []
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            patches.append(
                {
                    "target": {"kind": kind},
                    "patch": yaml.safe_dump(
                        {
                            "apiVersion": "admissionregistration.k8s.io/v1",
                            "kind": kind,
                            "metadata": {"name": "any", "annotations": dict(annotations)},
                        },
                        sort_keys=False,
                    ),
                }
            )
        out["aks-admissions-enforcer-opt-out"] = (
            "# AKS's admissions enforcer skips webhooks on namespaces it considers control\n"
            "# plane unless they opt out (deployKF#61, Azure/kubeflow-aks#18).\n"
            + yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1alpha1",
                    "kind": "Component",
                    "patches": patches,
                },
                sort_keys=False,
            )
        )
    return out


Customizer = Callable[[Context, Overlay], None]

# Component -> what kfstack adds to it, in order. Every component also gets the
# webhook opt-out where the target needs it.
CUSTOMIZERS: dict[str, list[Customizer]] = {
    "storage": [storage],
    "nvidia-device-plugin": [device_plugin],
    "istio": [gke_cni, gateway_service],
    "oauth2-proxy": [oauth2_proxy],
    "dex": [dex],
    "kubeflow-istio-resources": [gateway_hosts],
    "notebooks": [spawner_gpus],
    "gateway-tls": [gateway_tls],
    "teams": [teams],
}
