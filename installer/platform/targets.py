"""What each target changes in the platform layer, as one profile per target.

The platform code asks a `TargetProfile` (never `if target == ...`): which Istio and
oauth2-proxy overlays to build, which CSI provisioners back the RWO/RWX/snapshot
classes, who owns the NVIDIA device plugin, how the ingress gateway is exposed, and
which admission quirks apply. Sources for the quirks: ../shared/kubeflow-install-notes.md
(GKE's read-only /opt/cni/bin needs the `gke` Istio overlay, kubeflow/manifests#3061;
AKS's admissions enforcer skips webhooks unless opted out, deployKF#61; EKS 1.30+ has
no default StorageClass; EKS machine tokens come from the cluster's OIDC issuer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from installer.errors import UserError

PENDING_RWX_ID = "((kfstack:infra.rwx_filesystem_id))"
PENDING_OIDC = "((kfstack:infra.oidc_issuer))"


@dataclass(frozen=True)
class ClassSpec:
    provisioner: str
    parameters: dict[str, str] = field(default_factory=dict)
    binding: str = "WaitForFirstConsumer"
    mount_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetProfile:
    name: str
    istio_overlay: str = "oauth2-proxy"
    oauth2_proxy_overlay: str = "m2m-dex-only"
    m2m_issuer: str | None = None  # a pending value where machine tokens come from
    rwo: ClassSpec | None = None
    rwx: ClassSpec | None = None
    snapshot_driver: str | None = None
    # The platform ships the VolumeSnapshot CRDs and controller (GKE, AKS).
    platform_snapshots: bool = False
    # The NVIDIA driver on GPU nodes comes with the node image, but the device plugin
    # does not (EKS's NVIDIA AMI), so kfstack installs the plugin anyway.
    plugin_with_platform_driver: bool = False
    webhook_annotations: dict[str, str] = field(default_factory=dict)
    # Add-on components this target needs from kfstack, by feature name.
    addon_features: tuple[str, ...] = ()

    def rwx_class(self, spec: Any) -> ClassSpec:
        """The RWX class for `spec` (bare metal's NFS export comes from the spec)."""
        if self.name == "baremetal":
            nfs = spec.baremetal.nfs
            return ClassSpec(
                "nfs.csi.k8s.io",
                {"server": nfs.server, "share": nfs.path},
                binding="Immediate",
                mount_options=("nfsvers=4.1",),
            )
        if self.rwx is None:
            raise UserError(
                f"storage.rwx: target {self.name} has no RWX class kfstack can create",
                hint="set existing.rwx_class to a class the cluster already has",
            )
        return self.rwx


PROFILES: dict[str, TargetProfile] = {
    "aws": TargetProfile(
        name="aws",
        oauth2_proxy_overlay="m2m-dex-and-eks",
        m2m_issuer=PENDING_OIDC,
        rwo=ClassSpec("ebs.csi.aws.com", {"type": "gp3", "encrypted": "true"}),
        rwx=ClassSpec(
            "efs.csi.aws.com",
            {
                "provisioningMode": "efs-ap",
                "fileSystemId": PENDING_RWX_ID,
                "directoryPerms": "700",
                "basePath": "/kubeflow",
            },
            binding="Immediate",
        ),
        snapshot_driver="ebs.csi.aws.com",
        plugin_with_platform_driver=True,
    ),
    "gcp": TargetProfile(
        name="gcp",
        istio_overlay="gke",
        rwo=ClassSpec("pd.csi.storage.gke.io", {"type": "pd-balanced"}),
        rwx=ClassSpec("filestore.csi.storage.gke.io", {"tier": "standard"}),
        snapshot_driver="pd.csi.storage.gke.io",
        platform_snapshots=True,
    ),
    "azure": TargetProfile(
        name="azure",
        rwo=ClassSpec("disk.csi.azure.com", {"skuName": "StandardSSD_LRS"}),
        rwx=ClassSpec(
            "file.csi.azure.com",
            {"skuName": "Standard_LRS"},
            binding="Immediate",
            mount_options=("dir_mode=0777", "file_mode=0777", "mfsymlinks", "nobrl"),
        ),
        snapshot_driver="disk.csi.azure.com",
        platform_snapshots=True,
        webhook_annotations={"admissions.enforcer/disabled": "true"},
    ),
    "baremetal": TargetProfile(
        name="baremetal",
        rwo=ClassSpec("rancher.io/local-path", {}),
        snapshot_driver="nfs.csi.k8s.io",
        addon_features=("local-path",),
    ),
    # An existing cluster brings its own classes (existing.rwo_class / rwx_class).
    "existing": TargetProfile(name="existing"),
}


def profile(target: str) -> TargetProfile:
    return PROFILES[target]
