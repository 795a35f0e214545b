#!/bin/sh
# TEST STAND-IN for the k3s install script (https://get.k3s.io), used in air-gap mode
# where kfstack copies it from a local path. Like the real script with
# INSTALL_K3S_SKIP_DOWNLOAD=true it uses the binary already in /usr/local/bin, decides
# server or agent from INSTALL_K3S_EXEC and K3S_URL, leaves an uninstall script behind and
# starts k3s (here: runs the stand-in binary once instead of a systemd service). Every
# install is recorded in /var/tmp/k3s-standin/records.
set -eu
records=/var/tmp/k3s-standin/records
mkdir -p /var/tmp/k3s-standin
[ "${INSTALL_K3S_SKIP_DOWNLOAD:-}" = true ] || {
  echo "install.sh stand-in: cannot download k3s; set INSTALL_K3S_SKIP_DOWNLOAD=true" >&2
  exit 1
}
[ -x /usr/local/bin/k3s ] || {
  echo "install.sh stand-in: /usr/local/bin/k3s is missing" >&2
  exit 1
}
command="${INSTALL_K3S_EXEC:-}"
case "$command" in
  server* | agent*) ;;
  *) if [ -n "${K3S_URL:-}" ]; then command="agent $command"; else command="server $command"; fi ;;
esac
role="${command%% *}"
images="$(cd /var/lib/rancher/k3s/agent/images 2>/dev/null && printf '%s ' *)"
printf '%s\tinstall\trole=%s\tversion=%s\tK3S_URL=%s\tK3S_TOKEN=%s\timages=%s\texec=%s\n' \
  "$(date +%s%N)" "$role" "${INSTALL_K3S_VERSION:-}" "${K3S_URL:-}" "${K3S_TOKEN:-}" \
  "$images" "$command" >>"$records"

if [ "$role" = server ]; then uninstall=k3s-uninstall.sh; else uninstall=k3s-agent-uninstall.sh; fi
cat >"/usr/local/bin/$uninstall" <<'UNINSTALL'
#!/bin/sh
printf '%s\tuninstall\n' "$(date +%s%N)" >>/var/tmp/k3s-standin/records
rm -rf /etc/rancher/k3s /var/lib/rancher/k3s /usr/local/bin/k3s
rm -f "$0"
UNINSTALL
chmod 0755 "/usr/local/bin/$uninstall"

# shellcheck disable=SC2086 # INSTALL_K3S_EXEC is split into words, as the real script does
K3S_URL="${K3S_URL:-}" K3S_TOKEN="${K3S_TOKEN:-}" /usr/local/bin/k3s $command
