#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, then runs all test tiers.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[dev]'
exec python3 -m pytest -n 2 -q "$@"
