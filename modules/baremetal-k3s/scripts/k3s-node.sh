#!/bin/sh
# Runs on the init server on behalf of an agent's Terraform resource instance.
#
#   k3s-node.sh claim NODE GENERATION     the instance GENERATION now owns node NODE
#   k3s-node.sh release NODE GENERATION   drain and delete NODE, unless a newer instance
#                                         owns it (the agent was replaced, not removed)
set -eu
action="${1:-}" node="${2:-}" generation="${3:-}"
owners=/var/lib/rancher/k3s/kfstack-nodes

case "$node" in
  "" | *[!a-z0-9-]*) echo "k3s-node: invalid node name '$node'" >&2; exit 2 ;;
esac
[ -n "$generation" ] || { echo "k3s-node: missing generation" >&2; exit 2; }

case "$action" in
  claim)
    install -d -m 0700 "$owners"
    printf '%s\n' "$generation" >"$owners/$node"
    ;;
  release)
    if [ -s "$owners/$node" ] && [ "$(cat "$owners/$node")" != "$generation" ]; then
      echo "k3s-node: $node belongs to a newer install; not draining it"
      exit 0
    fi
    /usr/local/bin/k3s kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data \
      --force --timeout=120s || echo "k3s-node: draining $node failed; deleting it anyway"
    /usr/local/bin/k3s kubectl delete node "$node" --ignore-not-found
    rm -f "$owners/$node"
    ;;
  *) echo "usage: k3s-node.sh claim|release NODE GENERATION" >&2; exit 2 ;;
esac
