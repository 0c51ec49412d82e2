# The source tree the Rust builds see: the workspace crates, their tests and example
# configs, and the packaging data and scripts. Docs, workflows and the Nix files are
# left out, so editing them rebuilds nothing.
{ lib }:
let
  fs = lib.fileset;
in
fs.toSource {
  root = ../.;
  fileset = fs.unions [
    ../Cargo.toml
    ../Cargo.lock
    ../rust-toolchain.toml
    ../README.md
    ../LICENSE
    ../src
    ../packaging
    (fs.maybeMissing ../tests)
    (fs.maybeMissing ../examples)
    (fs.maybeMissing ../.cargo)
  ];
}
