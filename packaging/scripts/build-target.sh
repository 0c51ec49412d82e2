#!/usr/bin/env bash
# Build the release binary of oauth-mux for one target triple with cargo-zigbuild.
#
#   packaging/scripts/build-target.sh TRIPLE [BINS_DIR]
#
# Writes BINS_DIR/TRIPLE/oauth-mux (oauth-mux.exe on Windows); BINS_DIR defaults to
# target/release-bins. This is the one build step: `just release-local` and the Nix flake
# both call it, so the flags below exist in one place only.
#   - zig is the linker (cargo-zigbuild; PyPI `cargo-zigbuild` + `ziglang`, or nixpkgs);
#   - MACOSX_DEPLOYMENT_TARGET=11.0, otherwise zig stamps minos 15.0 on Mach-O;
#   - path prefixes remapped so the binary does not depend on where the tree was checked out
#     or where its dependencies were unpacked: workspace -> /src, cargo home -> /cargo,
#     rustup -> /rustup, and every crate's source directory -> /deps/<crate>-<version>, both
#     from cargo's registry cache and from a vendor directory (OMUX_VENDOR_DIR, which the
#     Nix build sets to crane's cargoVendorDir), so the two lanes embed the same paths;
#   - the binary is taken from cargo's own target directory (CARGO_TARGET_DIR,
#     build.target-dir, … as `cargo metadata` reports it);
#   - the release key `oauth-mux update` trusts is packaging/minisign.pub; with
#     OMUX_MINISIGN_PUBLIC_KEY_FILE set (throw-away test keys, the same variable `render` reads
#     for install.sh) the binary trusts that key instead (OMUX_RELEASE_PUBLIC_KEY at build time);
#   - Linux targets are musl, static by default (crt-static);
#   - SOURCE_DATE_EPOCH is fixed at 315532800 for the compile (see below);
#   - the release profile (LTO, one codegen unit, strip, opt-level z) is in Cargo.toml.
set -euo pipefail
triple=${1:?usage: build-target.sh TRIPLE [BINS_DIR]}
root=$(cd "$(dirname "$0")/../.." && pwd)
bins=${2:-$root/target/release-bins}
case "$bins" in /*) ;; *) bins=$PWD/$bins ;; esac

if ! grep -q "\"triple\": *\"$triple\"" "$root/packaging/targets.json"; then
  echo "build-target: $triple is not in packaging/targets.json (the one target list)" >&2
  exit 2
fi
command -v cargo-zigbuild >/dev/null 2>&1 || {
  echo "build-target: cargo-zigbuild not found on PATH; run .ci/deps/30-release.sh (pip install cargo-zigbuild ziglang)" >&2
  exit 127
}
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$triple"; then
  rustup target add "$triple"
fi

cargo_home=${CARGO_HOME:-$HOME/.cargo}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
export MACOSX_DEPLOYMENT_TARGET=11.0
# The binary must depend on the sources only, never on when they were committed: some crates
# embed SOURCE_DATE_EPOCH at compile time (age's translations through rust-embed; zig puts it
# in the PE header), and cargo does not rebuild them when it changes, so a commit-time epoch
# would leave a stale one in an incremental build. Builds use one fixed epoch, 1980-01-01 (the
# value Nix's stdenv sets too); `render` stamps the archives with the commit time.
export SOURCE_DATE_EPOCH=315532800
export CARGO_INCREMENTAL=0
# A relative CARGO_TARGET_DIR means the caller's directory, not the checkout.
case "${CARGO_TARGET_DIR:-}" in ''|/*) ;; *) export CARGO_TARGET_DIR=$PWD/$CARGO_TARGET_DIR ;; esac

# rustc applies the LAST matching --remap-path-prefix, so the general prefixes come first and
# the per-crate directories (which lie inside the cargo home or the vendor dir) after them.
remaps=("$root=/src" "$cargo_home=/cargo" "$rustup_home=/rustup")
for dir in "$cargo_home"/registry/src/*/; do
  [ -d "$dir" ] && remaps+=("${dir%/}=/deps")
done
if [ -n "${OMUX_VENDOR_DIR:-}" ]; then
  remaps+=("$OMUX_VENDOR_DIR=/vendor")
  for dir in "$OMUX_VENDOR_DIR"/*/; do
    [ -d "$dir" ] && remaps+=("${dir%/}=/deps")
  done
fi
if [ -n "${OMUX_MINISIGN_PUBLIC_KEY_FILE:-}" ]; then
  OMUX_RELEASE_PUBLIC_KEY=$(sed -n 2p "$OMUX_MINISIGN_PUBLIC_KEY_FILE")
  export OMUX_RELEASE_PUBLIC_KEY
  echo "build-target: the binary trusts the key of $OMUX_MINISIGN_PUBLIC_KEY_FILE, not packaging/minisign.pub" >&2
else
  unset OMUX_RELEASE_PUBLIC_KEY
fi
flags=''
for r in "${remaps[@]}"; do flags="$flags --remap-path-prefix=$r"; done
# Only target crates see RUSTFLAGS when --target is given; build scripts stay host-native.
export RUSTFLAGS="${RUSTFLAGS:-}$flags"

exe=oauth-mux
case "$triple" in *windows*) exe=oauth-mux.exe ;; esac

cd "$root"
target_dir=$(cargo metadata --format-version 1 --no-deps --locked | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$target_dir" ] || { echo "build-target: cargo metadata did not report the target directory" >&2; exit 1; }
# A target dir compiled with another epoch (e.g. a commit time, before builds used a fixed
# one) holds crates cargo will not rebuild although they embed it: start that target afresh.
stamp=$target_dir/$triple/release/.oauth-mux-build-epoch
if [ -d "$target_dir/$triple/release" ] && [ "$(cat "$stamp" 2>/dev/null)" != "$SOURCE_DATE_EPOCH" ]; then
  echo "build-target: $target_dir/$triple/release was built with another SOURCE_DATE_EPOCH; rebuilding it" >&2
  rm -rf "$target_dir/$triple/release"
fi
cargo zigbuild --release --locked --target "$triple" -p oauth-mux --bin oauth-mux
echo "$SOURCE_DATE_EPOCH" >"$stamp"
mkdir -p "$bins/$triple"
cp "$target_dir/$triple/release/$exe" "$bins/$triple/$exe.tmp"
mv "$bins/$triple/$exe.tmp" "$bins/$triple/$exe"
echo "build-target: $triple -> $bins/$triple/$exe ($(wc -c <"$bins/$triple/$exe") bytes)"
