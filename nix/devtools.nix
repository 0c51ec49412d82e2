# Every tool the justfile, packaging/release.just, nix/nix.just and .ci/run use, for
# `nix develop`: zig, cargo-zigbuild and nfpm at the versions packaging/tools.json pins
# (nix/tools.nix), the rest from nixpkgs. nix/tests/run.py checks that each tool installed
# by a .ci/deps/*.sh script is listed here (the Rust toolchain is rust-toolchain.toml's).
{ pkgs, tools }:
with pkgs;
[
  just
  cargo-nextest
  tools.cargo-zigbuild
  tools.zig
  tools.nfpm
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
  # `just bench-proxy` measures nginx as the plain reverse proxy reference row.
  nginx
]
++ lib.optionals stdenv.hostPlatform.isLinux [
  # The dashboard test renders the page in headless chromium (tests/dashboard.rs).
  chromium
  # The release proof installs the .deb and .rpm, reads binaries with binutils and runs
  # the aarch64 musl binary under qemu-aarch64.
  rpm
  dpkg
  binutils
  qemu
]
