#!/usr/bin/env bash
# Installs shipwise (and, with --dev, what the tests need) into the Python that runs `python3`,
# at the versions in constraints.txt. Copes with a system Python that refuses pip (PEP 668,
# "externally managed"): outside a virtual environment it then installs with
# --break-system-packages (as a non-root user pip puts it in ~/.local; have ~/.local/bin on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
target=.
if [ "${1:-}" = "--dev" ]; then target='.[dev]'; fi
flags=(--quiet --disable-pip-version-check -c constraints.txt)
if python3 - <<'PY'
import os, sys, sysconfig
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(0 if managed and sys.prefix == sys.base_prefix else 1)
PY
then
  flags+=(--break-system-packages)
fi
python3 -m pip install "${flags[@]}" -e "$target"
