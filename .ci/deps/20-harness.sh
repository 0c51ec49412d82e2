#!/usr/bin/env bash
# The real harness CLIs for the managed-session proof tests (tests/harness_*.rs):
# OpenAI Codex CLI and Claude Code, pinned, from the npm registry, into .ci/.tools/npm.
# Idempotent: skips the install when the pinned versions are already present.
# Bump both pins together with docs/harnesses.md (re-verify the observed facts).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../apt.sh
. .ci/apt.sh
prefix=.ci/.tools/npm
codex_version=0.169.0
claude_version=2.1.197

installed_version() { # package -> version or empty
  local pj="$prefix/lib/node_modules/$1/package.json"
  [ -f "$pj" ] && node -e 'process.stdout.write(require(process.argv[1]).version)' "$PWD/$pj" || true
}

if ! command -v npm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt_get update
    apt_get install -y nodejs npm
  else
    echo "20-harness.sh: npm is missing; install Node.js >= 18 and npm" >&2
    exit 1
  fi
fi

want=()
[ "$(installed_version @openai/codex)" = "$codex_version" ] || want+=("@openai/codex@$codex_version")
[ "$(installed_version @anthropic-ai/claude-code)" = "$claude_version" ] || want+=("@anthropic-ai/claude-code@$claude_version")
if [ "${#want[@]}" -gt 0 ]; then
  mkdir -p "$prefix"
  # -g with --prefix puts the bins in $prefix/bin (on PATH via .ci/env.sh).
  npm install --global --prefix "$prefix" --no-fund --no-audit --loglevel=error "${want[@]}"
fi
"$prefix/bin/codex" --version
"$prefix/bin/claude" --version
