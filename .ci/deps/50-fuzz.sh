#!/usr/bin/env bash
# The fuzz harness (fuzz/, docs/security.md): a nightly Rust toolchain (cargo-fuzz needs
# it for libFuzzer's sanitizer instrumentation) and cargo-fuzz, pinned, into
# .ci/.tools/cargo. Idempotent: skips what is present.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=.ci/.tools/cargo
cargo_fuzz_version=0.13.2

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if [ "$("$root/bin/cargo-fuzz" --version 2>/dev/null | awk '{print $2}')" != "$cargo_fuzz_version" ]; then
  cargo +stable install --quiet --locked --root "$root" --version "$cargo_fuzz_version" cargo-fuzz
fi
"$root/bin/cargo-fuzz" --version
cargo +nightly --version
