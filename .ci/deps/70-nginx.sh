#!/usr/bin/env bash
# The reference reverse proxy for `just bench-proxy` (benches/proxy/nginx.rs, docs/performance.md):
# Debian's nginx-light. The bench starts its own instance on loopback with its own config;
# the package's service is not used. Idempotent: installs only when nginx is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../apt.sh
. .ci/apt.sh
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "70-nginx: apt-get install nginx-light"
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends nginx-light >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
echo "70-nginx: $("$nginx_bin" -v 2>&1)"
