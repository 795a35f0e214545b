#!/usr/bin/env bash
# Install k3s on this host as a server or an agent, the way kfstack's Terraform module
# asks. Runs as root (the module prefixes `sudo -n` for other users).
#
# The staging directory (0700, owned by the SSH user) holds what Terraform uploaded:
# this script, `token`, and in air-gap mode `airgap/{k3s,install.sh,images/*}`.
#
# Idempotent: the settings of a finished install are fingerprinted; when a second run
# finds the same fingerprint and the same k3s version, it changes nothing.
#
# --generation is the id of the Terraform resource instance running the install. It is
# kept in $generation_file so that k3s-remove.sh, run by an older instance that is being
# replaced, can tell that a newer install owns the host and leave it alone.
set -euo pipefail

role="" node_name="" version="" server_url="" script_url="https://get.k3s.io"
staging="" generation="" ready_timeout=300 airgap=false gpu=false cluster_init=false
labels=() taints=() tls_sans=()

die() {
  echo "kfstack k3s-install: error: $*" >&2
  exit 1
}
log() { echo "kfstack k3s-install [${node_name:-?}]: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --role) role="$2"; shift 2 ;;
    --node-name) node_name="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --server-url) server_url="$2"; shift 2 ;;
    --script-url) script_url="$2"; shift 2 ;;
    --staging) staging="$2"; shift 2 ;;
    --generation) generation="$2"; shift 2 ;;
    --ready-timeout) ready_timeout="$2"; shift 2 ;;
    --label) labels+=("$2"); shift 2 ;;
    --taint) taints+=("$2"); shift 2 ;;
    --tls-san) tls_sans+=("$2"); shift 2 ;;
    --airgap) airgap=true; shift ;;
    --gpu) gpu=true; shift ;;
    --cluster-init) cluster_init=true; shift ;;
    *) die "unknown argument $1" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "must run as root; give the SSH user passwordless sudo"
case "$role" in server | agent) ;; *) die "--role must be server or agent" ;; esac
if [ -z "$node_name" ] || [ -z "$version" ] || [ -z "$staging" ]; then
  die "--node-name, --version and --staging are required"
fi
[ "$role" = server ] || [ -n "$server_url" ] || die "an agent needs --server-url"
token_file=/etc/rancher/k3s/kfstack-token
# A re-run by hand may find the token already moved into place by the first run.
[ -s "$staging/token" ] || [ -s "$token_file" ] \
  || die "$staging/token is missing: Terraform uploads it before this script"

state_dir=/var/lib/rancher/k3s
fingerprint_file="$state_dir/kfstack-install.sha256"
generation_file="$state_dir/kfstack-generation"

# 1. The NVIDIA runtime. k3s finds nvidia-container-runtime on PATH when it starts and adds
# an `nvidia` runtime to its embedded containerd's config
# (https://docs.k3s.io/advanced#nvidia-container-runtime-support); --default-runtime makes
# it the default, so GPU pods and the device plugin need no RuntimeClass. k3s's
# maintainers advise against a hand-written containerd template for this
# (github.com/k3s-io/k3s/discussions/7601), so there is none. The driver and the toolkit
# belong to the host: kfstack reports driver=host for these pools.
exec_args=("$role" --node-name "$node_name")
if [ "$gpu" = true ]; then
  runtime="$(command -v nvidia-container-runtime || true)"
  [ -n "$runtime" ] \
    || die "GPU host without nvidia-container-runtime: install the NVIDIA driver and the NVIDIA Container Toolkit (apt-get install nvidia-container-toolkit), then re-run kfstack"
  log "NVIDIA runtime: $runtime ($("$runtime" --version 2>&1 | head -n 1))"
  exec_args+=(--default-runtime nvidia)
fi

for label in "${labels[@]}"; do exec_args+=(--node-label "$label"); done
for taint in "${taints[@]}"; do exec_args+=(--node-taint "$taint"); done
if [ "$role" = server ]; then
  for san in "${tls_sans[@]}"; do exec_args+=(--tls-san "$san"); done
  # The kubeconfig holds cluster-admin credentials: root only.
  exec_args+=(--write-kubeconfig-mode 0600)
  [ "$cluster_init" = true ] && exec_args+=(--cluster-init)
fi

# 2. The token: root-only on the host, handed to the install script in its environment
# (the install script keeps it in the 0600 service env file, never on a command line).
install -d -m 0700 /etc/rancher/k3s
if [ -s "$staging/token" ]; then
  install -m 0600 "$staging/token" "$token_file"
  rm -f "$staging/token"
fi
K3S_TOKEN="$(cat "$token_file")"

fingerprint="$(
  {
    printf '%s\n' "$version" "$server_url" "${exec_args[@]}"
    sha256sum <"$token_file"
    if [ "$airgap" = true ]; then sha256sum "$staging"/airgap/k3s "$staging"/airgap/images/*; fi
  } | sha256sum | cut -d' ' -f1
)"
if [ -f "$fingerprint_file" ] && [ "$(cat "$fingerprint_file")" = "$fingerprint" ] \
  && /usr/local/bin/k3s --version 2>/dev/null | grep -qF "$version"; then
  [ -z "$generation" ] || printf '%s\n' "$generation" >"$generation_file"
  log "k3s $version is already installed with these settings; nothing to change"
  exit 0
fi

# 3. The binary and images: downloaded by the install script, or copied from the
# air-gap bundle (https://docs.k3s.io/installation/airgap#install-k3s).
# The token is exported, not an `env` argument, so it never shows in a process list.
export K3S_TOKEN
install_env=(INSTALL_K3S_VERSION="$version" INSTALL_K3S_EXEC="${exec_args[*]}")
[ -n "$server_url" ] && install_env+=(K3S_URL="$server_url")
if [ "$airgap" = true ]; then
  [ -x "$staging/airgap/k3s" ] || chmod 0755 "$staging/airgap/k3s"
  install -m 0755 "$staging/airgap/k3s" /usr/local/bin/k3s
  install -d -m 0755 "$state_dir/agent/images"
  for image in "$staging"/airgap/images/*; do
    install -m 0644 "$image" "$state_dir/agent/images/"
  done
  installer="$staging/airgap/install.sh"
  install_env+=(INSTALL_K3S_SKIP_DOWNLOAD=true)
else
  installer="$staging/install.sh"
  for attempt in 1 2 3; do
    curl -sfL --retry 2 -o "$installer" "$script_url" && break
    [ "$attempt" = 3 ] && die "cannot download $script_url; check the host's Internet access or use baremetal.airgap"
    log "download of $script_url failed, retrying in 5 s"
    sleep 5
  done
fi
log "installing k3s $version as $role"
env "${install_env[@]}" sh "$installer"

# 4. A server is ready for agents once it has written its node token and kubeconfig.
if [ "$role" = server ]; then
  waited=0
  until [ -s "$state_dir/server/node-token" ] && [ -s /etc/rancher/k3s/k3s.yaml ]; do
    [ "$waited" -ge "$ready_timeout" ] \
      && die "k3s wrote no node token within ${ready_timeout}s; see journalctl -u k3s"
    [ $((waited % 10)) = 0 ] && log "waiting for the k3s node token (${waited}s)"
    sleep 1
    waited=$((waited + 1))
  done
  log "server is up: node token and kubeconfig present"
fi

install -m 0755 "$staging/k3s-remove.sh" /usr/local/bin/kfstack-k3s-remove.sh
install -d -m 0755 "$state_dir"
printf '%s\n' "$fingerprint" >"$fingerprint_file"
[ -z "$generation" ] || printf '%s\n' "$generation" >"$generation_file"
log "done"
