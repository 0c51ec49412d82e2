# oauth-mux task runner. `just --list` shows every recipe.
# Tools installed by `.ci/run` live in .ci/.tools and are put on PATH here.

set shell := ["bash", "-euo", "pipefail", "-c"]
set export

PATH := justfile_directory() / ".ci/.tools/venv/bin:" + justfile_directory() / ".ci/.tools/npm/bin:" + env_var('HOME') / ".cargo/bin:" + env_var('PATH')

import 'packaging/release.just'
import 'nix/nix.just'
import 'bench.just'

# List the recipes.
default:
    @just --list

# Build the oauth-mux binary (debug).
build:
    cargo build --locked

# Everything CI runs: lint, unit + end-to-end tests, release proof, nix checks.
test: check test-rust release-test nix-test

# Unit and end-to-end tests of the oauth-mux crate.
test-rust:
    cargo nextest run --locked --workspace --no-fail-fast

# End-to-end tests only (the real binary against loopback fakes).
e2e:
    cargo nextest run --locked -p oauth-mux --test '*'

# Formatting and lints.
check:
    cargo fmt --all -- --check
    cargo clippy --locked --workspace --all-targets -- -D warnings

# Run the self-contained demo (a managed session with a quota handoff).
demo:
    cargo run --locked --quiet -- demo

# Benchmarks; each writes its figures into docs/performance.md.
bench: bench-route bench-proxy

# `route explain --json` over 100 routes with recorded health, whole processes.
bench-route:
    cargo build --release --locked
    python3 scripts/bench_route_explain.py target/release/oauth-mux --runs 200 --markdown-out docs/performance.md
