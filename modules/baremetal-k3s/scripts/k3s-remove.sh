#!/bin/sh
# Remove k3s from this host (the destroy step of kfstack's bare-metal module): run the
# uninstall script k3s's installer left behind, then delete kfstack's own files.
# Idempotent: on a host without k3s it only says so.
set -eu
staging="${1:-/var/tmp/kfstack-k3s}"

if [ -x /usr/local/bin/k3s-uninstall.sh ]; then
  /usr/local/bin/k3s-uninstall.sh
elif [ -x /usr/local/bin/k3s-agent-uninstall.sh ]; then
  /usr/local/bin/k3s-agent-uninstall.sh
else
  echo "kfstack k3s-remove: no k3s uninstall script on this host; nothing to uninstall"
fi
rm -f /etc/rancher/k3s/kfstack-token /var/lib/rancher/k3s/kfstack-install.sha256
rm -f /usr/local/bin/kfstack-k3s-remove.sh
case "$staging" in
  /*kfstack*) rm -rf "$staging" ;;
  *) echo "kfstack k3s-remove: not deleting unexpected staging path $staging" >&2 ;;
esac
echo "kfstack k3s-remove: done"
