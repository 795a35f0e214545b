"""Offline detection of Google Cloud and Azure credentials, before any Terraform run.

AWS is checked by asking STS who the caller is (`aws_api.check_credentials`): one cheap
call that also proves the keys work. Google and Azure have no such call that works
without their SDKs, so kfstack looks, without the network and without reading any
secret, for the sources their Terraform providers read, in the providers' own order:

    gcp     GOOGLE_CREDENTIALS / GOOGLE_CLOUD_KEYFILE_JSON / GCLOUD_KEYFILE_JSON (key JSON
            or its path), GOOGLE_OAUTH_ACCESS_TOKEN, GOOGLE_APPLICATION_CREDENTIALS (a
            file), gcloud's application-default credentials file, and the metadata
            server of a GCE VM or a GKE pod with workload identity (GCE_METADATA_HOST, or
            the SMBIOS product name google-auth's `detect_gce_residency_linux` checks)
    azure   a service principal (ARM_CLIENT_ID + ARM_TENANT_ID + a secret or
            certificate), OIDC (ARM_USE_OIDC + ARM_CLIENT_ID + ARM_TENANT_ID + a token or
            token request), managed identity (ARM_USE_MSI), or an Azure CLI login

`detect_*` returns what was found (for `kfstack doctor`); `require(found)` turns
nothing found into `CredentialsError` (exit 2) naming what was looked for and the
command that fixes it. Whether the cloud accepts the credentials is for Terraform to
find out; this check only spares a run that could never authenticate.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from installer.errors import CredentialsError

# google-auth reads this to recognise a GCE VM (and so a GKE node) without the network.
GCE_PRODUCT_NAME_FILE = Path("/sys/class/dmi/id/product_name")

GCP_FIX = "run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS)"
AZURE_FIX = "run `az login` (or export ARM_CLIENT_ID, ARM_CLIENT_SECRET and ARM_TENANT_ID)"


@dataclass(frozen=True)
class Found:
    """What detection saw: the sources present, or the problem that makes them unusable."""

    cloud: str
    sources: tuple[str, ...]
    looked_for: str
    fix: str
    problem: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.sources) and not self.problem


def require(found: Found) -> None:
    """Raises: CredentialsError when `found` holds no usable credentials."""
    if found.ok:
        return
    what = found.problem or f"no {found.cloud} credentials found (looked for {found.looked_for})"
    raise CredentialsError(what, hint=found.fix)


def _set(*names: str) -> list[str]:
    return [n for n in names if os.environ.get(n)]


def _true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def detect_gcp() -> Found:
    """The Google credentials the `google` provider would find, never read or printed."""
    looked_for = (
        "GOOGLE_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN, GOOGLE_APPLICATION_CREDENTIALS, "
        "gcloud's application_default_credentials.json, a GCE/GKE metadata server"
    )
    sources = _set(
        "GOOGLE_CREDENTIALS",
        "GOOGLE_CLOUD_KEYFILE_JSON",
        "GCLOUD_KEYFILE_JSON",
        "GOOGLE_OAUTH_ACCESS_TOKEN",
    )
    explicit = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if explicit:
        if not Path(explicit).expanduser().is_file():
            return Found(
                "gcp",
                tuple(sources),
                looked_for,
                "point GOOGLE_APPLICATION_CREDENTIALS at a service-account key or "
                "credentials file, or unset it",
                problem=f"GOOGLE_APPLICATION_CREDENTIALS names {explicit}, which does not exist",
            )
        sources.append(f"GOOGLE_APPLICATION_CREDENTIALS ({explicit})")
    config = Path(os.environ.get("CLOUDSDK_CONFIG") or _home() / ".config" / "gcloud")
    adc = config / "application_default_credentials.json"
    if adc.is_file():
        sources.append(str(adc))
    if os.environ.get("GCE_METADATA_HOST"):
        sources.append(f"metadata server GCE_METADATA_HOST={os.environ['GCE_METADATA_HOST']}")
    elif _on_gce():
        sources.append("metadata server (this machine is a GCE VM or GKE node)")
    return Found("gcp", tuple(sources), looked_for, GCP_FIX)


def _on_gce() -> bool:
    try:
        return GCE_PRODUCT_NAME_FILE.read_text().strip().startswith("Google")
    except OSError:
        return False


def detect_azure() -> Found:
    """The Azure credentials the `azurerm` provider would find, never read or printed."""
    looked_for = (
        "ARM_CLIENT_ID + ARM_TENANT_ID with ARM_CLIENT_SECRET or ARM_CLIENT_CERTIFICATE_PATH, "
        "ARM_USE_OIDC with a token, ARM_USE_MSI, an Azure CLI login"
    )
    sources = []
    principal = _set("ARM_CLIENT_ID", "ARM_TENANT_ID")
    secret = _set(
        "ARM_CLIENT_SECRET",
        "ARM_CLIENT_SECRET_FILE_PATH",
        "ARM_CLIENT_CERTIFICATE_PATH",
    )
    if len(principal) == 2 and secret:
        sources.append(f"service principal (ARM_CLIENT_ID, ARM_TENANT_ID, {secret[0]})")
    # The provider's OIDC token sources: given, in a file, or requested from the CI
    # (GitHub Actions sets ACTIONS_ID_TOKEN_REQUEST_*; AKS workload identity the file).
    token = _set(
        "ARM_OIDC_TOKEN",
        "ARM_OIDC_TOKEN_FILE_PATH",
        "ARM_OIDC_REQUEST_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "AZURE_FEDERATED_TOKEN_FILE",
    )
    if (_true("ARM_USE_OIDC") or _true("ARM_USE_AKS_WORKLOAD_IDENTITY")) and token:
        if len(principal) == 2 or _true("ARM_USE_AKS_WORKLOAD_IDENTITY"):
            sources.append(f"OIDC ({token[0]})")
    if _true("ARM_USE_MSI"):
        sources.append("managed identity (ARM_USE_MSI)")
    config = Path(os.environ.get("AZURE_CONFIG_DIR") or _home() / ".azure")
    if _az_logged_in(config / "azureProfile.json"):
        sources.append(f"Azure CLI login ({config})")
    return Found("azure", tuple(sources), looked_for, AZURE_FIX)


def _az_logged_in(profile: Path) -> bool:
    # `az` writes the profile on its first run and empties its subscriptions on logout;
    # a login leaves at least one. It holds ids and names, no tokens.
    try:
        data = json.loads(profile.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data.get("subscriptions"))
