#!/usr/bin/env bash
# The main job: kfstack's whole flow on this machine with nothing real created.
#   scripts/sandbox.sh [SPEC]      (default: examples/aws.yaml)
# Provisions the AWS example with real terraform into a local AWS API emulator, renders
# the real Kubeflow release, installs it on kfstack's simulated cluster, and verifies.
set -euo pipefail
cd "$(dirname "$0")/.."
spec="${1:-examples/aws.yaml}"
scripts/bootstrap.sh sandbox

# Machines that cannot reach the Terraform registry or GitHub (kfstack's own CI) keep a
# provider mirror and offline copies of the upstream manifests; use them when present.
# Everywhere else terraform and kfstack download and verify what they need as usual.
mirror="${KFSTACK_TF_MIRROR:-/opt/tf-plugins}"
if [ ! -f "${TF_CLI_CONFIG_FILE:-}" ] && [ -d "$mirror/registry.terraform.io" ]; then
  export TF_CLI_CONFIG_FILE="$PWD/.kfstack-terraformrc"
  printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' \
    "$mirror" > "$TF_CLI_CONFIG_FILE"
fi
shared="$(cd .. && pwd)/shared"
if [ -d "$shared/kubeflow-manifests" ]; then
  export KFSTACK_KUBEFLOW_MIRROR="${KFSTACK_KUBEFLOW_MIRROR:-$shared/kubeflow-manifests}"
  export KFSTACK_ADDONS_DIR="${KFSTACK_ADDONS_DIR:-$shared/addon-manifests}"
fi
exec .venv/bin/kfstack up --sandbox -c "$spec" --yes
