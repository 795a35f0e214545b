#!/bin/sh
# Runs on the init server on behalf of a host's Terraform resource instance.
#
#   k3s-node.sh claim NODE [--label K=V]... [--taint K=V:EFFECT]... --generation ID
#       instance ID now owns node NODE; if NODE is already registered, its labels and
#       taints are set through the API, because k3s applies --node-label/--node-taint
#       only at registration (https://docs.k3s.io/cli/agent#node-labels-and-taints-for-agents)
#   k3s-node.sh release NODE --generation ID
#       drain and delete NODE, unless a newer instance owns it (replaced, not removed)
set -eu
action="${1:-}" node="${2:-}"
[ $# -ge 2 ] && shift 2
owners=/var/lib/rancher/k3s/kfstack-nodes
kubectl() { /usr/local/bin/k3s kubectl "$@"; }

case "$node" in
  "" | *[!a-z0-9-]*) echo "k3s-node: invalid node name '$node'" >&2; exit 2 ;;
esac
generation="" labels="" taints=""
while [ $# -gt 0 ]; do
  case "$1" in
    --generation) generation="$2" ;;
    --label) labels="$labels $2" ;;
    --taint) taints="$taints $2" ;;
    *) echo "k3s-node: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -n "$generation" ] || { echo "k3s-node: missing --generation" >&2; exit 2; }

case "$action" in
  claim)
    install -d -m 0700 "$owners"
    printf '%s\n' "$generation" >"$owners/$node"
    if kubectl get node "$node" >/dev/null 2>&1; then
      # Labels and taints are validated label syntax (no spaces), so word splitting is safe.
      for label in $labels; do kubectl label node "$node" "$label" --overwrite; done
      for taint in $taints; do kubectl taint node "$node" "$taint" --overwrite; done
    else
      echo "k3s-node: $node is not registered yet; k3s applies its labels and taints on registration"
    fi
    ;;
  release)
    if [ -s "$owners/$node" ] && [ "$(cat "$owners/$node")" != "$generation" ]; then
      echo "k3s-node: $node belongs to a newer install; not draining it"
      exit 0
    fi
    kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --force --timeout=120s \
      || echo "k3s-node: draining $node failed; deleting it anyway"
    kubectl delete node "$node" --ignore-not-found
    rm -f "$owners/$node"
    ;;
  *) echo "usage: k3s-node.sh claim|release NODE [--label K=V]... [--taint T]... --generation ID" >&2; exit 2 ;;
esac
