#!/usr/bin/env bash
# The test command: install what the tests need, then run the whole suite.
#   scripts/test.sh            everything
#   scripts/test.sh -k eks     any pytest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
# Bare-metal tests need sshd and ip(8) for their test hosts, sudo for the host that logs
# in as a non-root user, and shellcheck for the install scripts; install them when we can.
if { { ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; } \
  || ! command -v sudo >/dev/null 2>&1 || ! command -v shellcheck >/dev/null 2>&1; } \
  && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq openssh-server iproute2 sudo shellcheck >/dev/null) \
    || echo "warning: could not install openssh-server/sudo/shellcheck; tests needing them will be skipped" >&2
fi
.venv/bin/ruff check installer stacks tests scripts
.venv/bin/ruff format --check installer stacks tests scripts
exec .venv/bin/python -m pytest -q -ra "$@"
