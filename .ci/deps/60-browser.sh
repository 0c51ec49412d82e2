#!/usr/bin/env bash
# The headless browser for the dashboard test (tests/dashboard.rs): Debian's chromium.
# Idempotent: installs only when /usr/bin/chromium is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../apt.sh
. .ci/apt.sh
if [ ! -x /usr/bin/chromium ]; then
  echo "60-browser: apt-get install chromium"
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "60-browser: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
