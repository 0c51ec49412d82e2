# Every tool the justfile, packaging/release.just, nix/nix.just and .ci/run use, from
# nixpkgs, for `nix develop`. nix/tests/run.sh checks that each tool installed by a
# .ci/deps/*.sh script is listed here (the Rust toolchain comes from rust-overlay).
{ pkgs }:
with pkgs;
[
  just
  cargo-nextest
  cargo-zigbuild
  zig
  nfpm
  minisign
  nodejs
  ruby
  dash
  curl
  wget
  unzip
  openssl
  python3
  git
  nix
  actionlint
  shellcheck
]
++ lib.optionals stdenv.hostPlatform.isLinux [
  # The release proof installs the .deb and .rpm, reads binaries with binutils and runs
  # the aarch64 musl binary under qemu-aarch64.
  rpm
  dpkg
  binutils
  qemu
]
