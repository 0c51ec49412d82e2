#!/usr/bin/env bash
# The release proof `just test` runs (CI): build all six targets, render the tree twice from the
# same binaries and SOURCE_DATE_EPOCH (identical SHA256SUMS and bytes), then prove every lane.
# The tree is signed with a throw-away minisign key generated here; the release key is never used.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
started=$(date +%s)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
work=$root/target/release-test
rm -rf "$work"
mkdir -p "$work"
for tool in cargo-zigbuild nfpm minisign; do
  command -v "$tool" >/dev/null || { echo "release-test: $tool missing; run .ci/deps/30-release.sh" >&2; exit 1; }
done

echo "== release-test: throw-away signing key"
minisign -G -W -p "$work/test.pub" -s "$work/test.key" >/dev/null
export OMUX_MINISIGN_SECRET_KEY_FILE=$work/test.key
export OMUX_MINISIGN_PUBLIC_KEY_FILE=$work/test.pub
export SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)

echo "== release-test: build the six targets, render #1"
just release-local "$version" target/release-bins "$work/one/$version"
build_done=$(date +%s)

echo "== release-test: render #2 from the same binaries and SOURCE_DATE_EPOCH"
OMUX_RELEASE_SKIP_BUILD=1 just release-local "$version" target/release-bins "$work/two/$version"
if ! cmp "$work/one/$version/SHA256SUMS" "$work/two/$version/SHA256SUMS"; then
  diff "$work/one/$version/SHA256SUMS" "$work/two/$version/SHA256SUMS" >&2 || true
  echo "release-test: FAIL: two renders gave different SHA256SUMS" >&2
  exit 1
fi
diff -r "$work/one/$version" "$work/two/$version" >/dev/null || { echo "release-test: FAIL: two renders differ" >&2; exit 1; }
echo "    ok: identical SHA256SUMS ($(sha256sum "$work/one/$version/SHA256SUMS" | cut -c1-16)…) and identical trees"
render_done=$(date +%s)

echo "== release-test: proof"
just release-proof "$version" "$work/one/$version"
echo "== release-test: build+render $((build_done - started))s, render #2 $((render_done - build_done))s, proof $(( $(date +%s) - render_done ))s"
