#!/usr/bin/env bash
# The headless browser for the dashboard test (tests/dashboard.rs): Debian's chromium.
# Idempotent: installs only when /usr/bin/chromium is missing.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "60-browser: apt-get install chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "60-browser: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
