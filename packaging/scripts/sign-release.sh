#!/bin/sh
# Sign a rendered release tree: SHA256SUMS -> SHA256SUMS.minisig, with the trusted comment
# `file:SHA256SUMS<TAB>version:V`, then check the signature with the public key the tree
# embeds (install.sh, dist-manifest.json, and so the binaries) and, for a release, with the
# committed packaging/minisign.pub.
#
#   OMUX_MINISIGN_SECRET_KEY_FILE=/path/minisign.key sh packaging/scripts/sign-release.sh dist/V
#   OMUX_MINISIGN_SECRET_KEY="$(cat minisign.key)" OMUX_MINISIGN_PASSWORD=… sh … dist/V
#
# It needs only a POSIX shell, sed and minisign: run it where nothing else runs (the release
# workflow's signing job has no cargo, no Nix, no build scripts), so the secret key is never
# in an environment that executes third-party code. `just release-local` calls it after
# building and rendering, with the key removed from the build's environment.
#
# When packaging/minisign.pub.minisig exists (a key rotation: the new public key signed by
# the previous key, see docs/release.md), minisign.pub and minisign.pub.minisig are copied
# into the tree so that installed binaries, which trust the previous key, accept the new one.
#
# OMUX_SIGN_TEST_KEY=1 allows a tree whose embedded key is not packaging/minisign.pub
# (throw-away test keys, as release-test uses).
set -eu

dir=${1:?usage: sign-release.sh RELEASE_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
manifest=$dir/dist-manifest.json
[ -f "$manifest" ] || { echo "sign-release: $manifest not found (render the tree first)" >&2; exit 2; }
[ -f "$dir/SHA256SUMS" ] || { echo "sign-release: $dir/SHA256SUMS not found" >&2; exit 2; }
command -v minisign >/dev/null 2>&1 || {
  echo "sign-release: minisign not found on PATH (apt-get install minisign / brew install minisign)" >&2
  exit 127
}

version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$manifest")
public_key=$(sed -n 's/^ *"public_key": "\(RW[A-Za-z0-9+/=]*\)",$/\1/p' "$manifest")
recorded=$(sed -n 's/^ *"trusted_comment": "\(.*\)"$/\1/p' "$manifest")
[ -n "$version" ] && [ -n "$public_key" ] || {
  echo "sign-release: $manifest names no version or public key" >&2
  exit 2
}
tab=$(printf '\t')
comment="file:SHA256SUMS${tab}version:$version"
[ "$recorded" = "file:SHA256SUMS\\tversion:$version" ] || {
  echo "sign-release: the manifest records the trusted comment '$recorded'; expected file:SHA256SUMS\\tversion:$version" >&2
  exit 2
}
committed=$(sed -n 2p "$root/packaging/minisign.pub")
if [ "$public_key" != "$committed" ] && [ "${OMUX_SIGN_TEST_KEY:-0}" != 1 ]; then
  echo "sign-release: $dir embeds key $public_key, not the committed packaging/minisign.pub ($committed); re-render it, or set OMUX_SIGN_TEST_KEY=1 for a test tree" >&2
  exit 2
fi

secret=${OMUX_MINISIGN_SECRET_KEY_FILE:-}
scratch=''
cleanup() { if [ -n "$scratch" ]; then rm -rf "$scratch"; fi; }
trap cleanup EXIT
if [ -z "$secret" ]; then
  [ -n "${OMUX_MINISIGN_SECRET_KEY:-}" ] || {
    echo "sign-release: set OMUX_MINISIGN_SECRET_KEY_FILE (a path) or OMUX_MINISIGN_SECRET_KEY (the key file's text)" >&2
    exit 2
  }
  scratch=$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/oauth-mux-sign.XXXXXX")
  secret=$scratch/minisign.key
  (umask 077 && printf '%s\n' "$OMUX_MINISIGN_SECRET_KEY" >"$secret")
fi

rm -f "$dir/SHA256SUMS.minisig"
# An encrypted key reads its password from stdin; a key made with -W reads nothing.
printf '%s\n' "${OMUX_MINISIGN_PASSWORD:-}" |
  minisign -S -s "$secret" -m "$dir/SHA256SUMS" -x "$dir/SHA256SUMS.minisig" \
    -c "signature from the oauth-mux release key" -t "$comment" >/dev/null || {
  echo "sign-release: minisign -S failed (wrong key or password?)" >&2
  exit 1
}
signed=$(minisign -V -Q -P "$public_key" -m "$dir/SHA256SUMS" -x "$dir/SHA256SUMS.minisig" 2>/dev/null) || {
  rm -f "$dir/SHA256SUMS.minisig"
  echo "sign-release: the secret key does not belong to the key the tree embeds ($public_key); nothing signed" >&2
  exit 1
}
[ "$signed" = "$comment" ] || { echo "sign-release: signed trusted comment is '$signed'" >&2; exit 1; }

if [ -f "$root/packaging/minisign.pub.minisig" ] && [ "$public_key" = "$committed" ]; then
  cp "$root/packaging/minisign.pub" "$dir/minisign.pub"
  cp "$root/packaging/minisign.pub.minisig" "$dir/minisign.pub.minisig"
  echo "sign-release: added the key rotation statement (minisign.pub, minisign.pub.minisig)"
fi
echo "sign-release: $dir/SHA256SUMS signed (version $version, key $public_key)"
