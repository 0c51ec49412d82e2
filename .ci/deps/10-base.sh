#!/usr/bin/env bash
# Base tools: a Python venv holding `just`, so the README's test command runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools=.ci/.tools
mkdir -p "$tools"
if [ ! -x "$tools/venv/bin/python" ]; then
  python3 -m venv "$tools/venv"
fi
"$tools/venv/bin/pip" install --quiet --disable-pip-version-check 'rust-just==1.43.0'
