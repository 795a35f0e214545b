#!/bin/sh
# Remove k3s from this host (the destroy step of kfstack's bare-metal module): run the
# uninstall script k3s's installer left behind, then delete kfstack's own files.
#
#   k3s-remove.sh STAGING_DIR [GENERATION]
#
# GENERATION is the id of the Terraform resource instance being destroyed. When the host
# records a different one, a newer instance has already reinstalled k3s here (a
# replacement, not a removal) and nothing is touched. Idempotent: on a host without k3s it
# only says so.
set -eu
staging="${1:-/var/tmp/kfstack-k3s}"
generation="${2:-}"
generation_file=/var/lib/rancher/k3s/kfstack-generation

if [ -n "$generation" ] && [ -s "$generation_file" ]; then
  current="$(cat "$generation_file")"
  if [ "$current" != "$generation" ]; then
    echo "kfstack k3s-remove: k3s here belongs to a newer install ($current); leaving it in place"
    exit 0
  fi
fi

if [ -x /usr/local/bin/k3s-uninstall.sh ]; then
  /usr/local/bin/k3s-uninstall.sh
elif [ -x /usr/local/bin/k3s-agent-uninstall.sh ]; then
  /usr/local/bin/k3s-agent-uninstall.sh
else
  echo "kfstack k3s-remove: no k3s uninstall script on this host; nothing to uninstall"
fi
rm -f /etc/rancher/k3s/kfstack-token /usr/local/bin/kfstack-k3s-remove.sh
rm -f /var/lib/rancher/k3s/kfstack-install.sha256 "$generation_file"
case "$staging" in
  /*kfstack*) rm -rf "$staging" ;;
  *) echo "kfstack k3s-remove: not deleting unexpected staging path $staging" >&2 ;;
esac
echo "kfstack k3s-remove: done"
