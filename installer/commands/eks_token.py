"""`kfstack eks-token` (hidden): the kubeconfig exec plugin for EKS clusters.

Prints an ExecCredential with a fresh token, as `aws eks get-token` does, so the
kubeconfig kfstack writes needs no AWS CLI. kubectl reads stdout; nothing else goes there.
"""

from __future__ import annotations

import json
import sys

import click

from installer import aws_api
from installer.errors import KfstackError


@click.command("eks-token", hidden=True)
@click.option("--cluster", required=True, help="EKS cluster name.")
@click.option("--region", required=True, help="AWS region of the cluster.")
def command(cluster: str, region: str) -> None:
    """Print an ExecCredential for CLUSTER (used by kubeconfigs kfstack writes)."""
    # No log file: kubectl runs this on every request; errors go to stderr for kubectl.
    try:
        credential = aws_api.exec_credential(cluster, region)
    except KfstackError as exc:
        sys.stderr.write(f"Error: {exc.render()}\n")
        sys.exit(exc.exit_code)
    sys.stdout.write(json.dumps(credential) + "\n")
