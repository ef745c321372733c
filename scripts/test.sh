#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, then runs all test tiers.
set -euo pipefail
cd "$(dirname "$0")/.."
# System packages: Chromium prints reports to PDF (and drives browser tests); poppler-utils turns
# PDFs into pictures for the tests; Prometheus and Alertmanager run the end-to-end alarm test; a
# Java runtime runs Spark (local mode) for the Spark equality tests. Installed only when missing.
if ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null \
   || ! command -v prometheus >/dev/null || ! command -v prometheus-alertmanager >/dev/null \
   || ! command -v java >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium poppler-utils fonts-liberation fonts-dejavu-core \
      prometheus prometheus-alertmanager openjdk-17-jre-headless >/dev/null
  else
    echo "scripts/test.sh: install chromium, poppler-utils, prometheus," \
         "prometheus-alertmanager and openjdk-17-jre-headless (Debian packages) first" >&2
    exit 1
  fi
fi
bash scripts/install.sh --dev  # pinned by constraints.txt; copes with PEP 668
if [ "$#" -gt 0 ]; then  # the tests asked for, as asked
  exec python3 -m pytest -n 2 -q "$@"
fi
# Every tier: first everything but the live end-to-end tests on two workers, then those alone,
# so a scrape or an evaluation is never starved of CPU by a neighbouring test.
python3 -m pytest -n 2 -q -m "not live"
exec python3 -m pytest -q -m live
