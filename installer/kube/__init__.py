"""A thin Kubernetes client for the install engine: kubeconfig loading and REST calls.

from installer import kube
client = kube.connect("kubeconfig")           # KubeClient
client.apply(obj, field_manager="kfstack")
"""

from __future__ import annotations

from pathlib import Path

from installer.kube.client import (
    ApiError,
    ConnectionFailed,
    KubeClient,
    KubeError,
    NoMatchError,
    Resource,
)
from installer.kube.config import KubeConfig, load_kubeconfig

__all__ = [
    "ApiError",
    "ConnectionFailed",
    "KubeClient",
    "KubeConfig",
    "KubeError",
    "NoMatchError",
    "Resource",
    "connect",
    "load_kubeconfig",
]


def connect(path: Path | str, *, context: str | None = None, pool_size: int = 16) -> KubeClient:
    """A client for the kubeconfig at `path`.

    Raises:
        UserError: the kubeconfig is missing or malformed.
    """
    return KubeClient(load_kubeconfig(path, context=context), pool_size=pool_size)
