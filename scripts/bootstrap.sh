#!/usr/bin/env bash
# Create .venv and install kfstack with the extras named in $1 (default: sandbox).
# Usage: scripts/bootstrap.sh [sandbox|test]
# A second call with the same extras and unchanged packaging files installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-sandbox}"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kfstack needs Python 3.11+")'
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=".venv/.kfstack-installed-${extra}"
want="$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[${extra}]"
  echo "$want" > "$stamp"
fi
echo "kfstack installed in .venv ($(.venv/bin/kfstack --version))" >&2
