#!/usr/bin/env bash
# The release proof `just test` runs (CI):
#   1. build all six targets and render + sign the tree (`just release-local`);
#   2. render + sign again from the same binaries and SOURCE_DATE_EPOCH: identical SHA256SUMS
#      and identical trees;
#   3. build the x86_64 Linux binary twice more, each from a clean target directory in a copy
#      of the checkout at a different path: the three binaries must be byte-identical, and
#      none may hold a path of this machine (checkout, $HOME, /tmp, cargo home, rustup, zig
#      caches, /nix/store);
#   4. prove every lane (`just release-proof`), including the update lanes.
# Signing uses a throw-away minisign key kept in target/release-test-key (the binaries are
# built to trust it, so keeping it avoids a rebuild per run); the release key is never used.
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

keys=$root/target/release-test-key
if [ ! -f "$keys/test.key" ] || [ ! -f "$keys/test.pub" ]; then
  echo "== release-test: a new throw-away signing key in $keys"
  rm -rf "$keys"
  mkdir -p "$keys"
  minisign -G -W -p "$keys/test.pub" -s "$keys/test.key" >/dev/null
fi
export OMUX_MINISIGN_SECRET_KEY_FILE=$keys/test.key
export OMUX_MINISIGN_PUBLIC_KEY_FILE=$keys/test.pub
export OMUX_SIGN_TEST_KEY=1
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
export SOURCE_DATE_EPOCH

echo "== release-test: build the six targets, render + sign #1"
just release-local "$version" target/release-bins "$work/one/$version"
build_done=$(date +%s)

echo "== release-test: render + sign #2 from the same binaries and SOURCE_DATE_EPOCH"
OMUX_RELEASE_SKIP_BUILD=1 just release-local "$version" target/release-bins "$work/two/$version"
if ! cmp "$work/one/$version/SHA256SUMS" "$work/two/$version/SHA256SUMS"; then
  diff "$work/one/$version/SHA256SUMS" "$work/two/$version/SHA256SUMS" >&2 || true
  echo "release-test: FAIL: two renders gave different SHA256SUMS" >&2
  exit 1
fi
diff -r "$work/one/$version" "$work/two/$version" >/dev/null || { echo "release-test: FAIL: two renders differ" >&2; exit 1; }
echo "    ok: identical SHA256SUMS ($(sha256sum "$work/one/$version/SHA256SUMS" | cut -c1-16)…) and identical trees"
render_done=$(date +%s)

echo "== release-test: build x86_64-unknown-linux-musl twice more, clean target dirs, two checkout paths"
triple=x86_64-unknown-linux-musl
# The checkout as it is (tracked and untracked files, not ignored ones), copied twice.
checkouts=("$work/repro-a/oauth-mux" "$work/repro-bb/another/checkout")
for dir in "${checkouts[@]}"; do
  mkdir -p "$dir"
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$dir"
done
for i in 0 1; do
  dir=${checkouts[$i]}
  s=$(date +%s)
  CARGO_TARGET_DIR=$dir/target "$dir/packaging/scripts/build-target.sh" "$triple" "$dir/bins" \
    >"$work/repro-$i.log" 2>&1 || { tail -40 "$work/repro-$i.log"; echo "release-test: FAIL: repro build $i" >&2; exit 1; }
  echo "    build $((i + 1)) in $dir: $(( $(date +%s) - s ))s, $(tail -n1 "$work/repro-$i.log")"
done
a=${checkouts[0]}/bins/$triple/oauth-mux
b=${checkouts[1]}/bins/$triple/oauth-mux
c=target/release-bins/$triple/oauth-mux
if ! cmp "$a" "$b" || ! cmp "$a" "$c"; then
  echo "release-test: FAIL: the x86_64 Linux binary differs between checkouts/target dirs:" >&2
  sha256sum "$a" "$b" "$c" >&2
  exit 1
fi
echo "    ok: three builds, byte-identical ($(sha256sum "$a" | cut -c1-16)…)"
for i in 0 1; do
  cargo run --locked -q -p oauth-mux-packaging -- check-binary --forbid "${checkouts[$i]}" \
    "${checkouts[$i]}/bins/$triple/oauth-mux"
done
repro_done=$(date +%s)

echo "== release-test: proof"
just release-proof "$version" "$work/one/$version"
echo "== release-test: build+render $((build_done - started))s, render #2 $((render_done - build_done))s, two clean rebuilds $((repro_done - render_done))s, proof $(( $(date +%s) - repro_done ))s"
