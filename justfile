# oauth-mux task runner. `just --list` shows every recipe.
# Tools installed by `.ci/run` live in .ci/.tools and are put on PATH here.

set shell := ["bash", "-euo", "pipefail", "-c"]
set export

PATH := justfile_directory() / ".ci/.tools/venv/bin:" + justfile_directory() / ".ci/.tools/npm/bin:" + justfile_directory() / ".ci/.tools/cargo/bin:" + env_var('HOME') / ".cargo/bin:" + env_var('PATH')

import 'packaging/release.just'
import 'nix/nix.just'
import 'bench.just'

# List the recipes.
default:
    @just --list

# Build the oauth-mux binary (debug).
build:
    cargo build --locked

# Everything CI runs: lint, unit + end-to-end tests, release proof, nix checks, fuzzing (20 s a target).
test: check test-rust release-test nix-test (fuzz "20")

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

# libFuzzer through cargo-fuzz on nightly, both installed by .ci/deps/50-fuzz.sh. Starts
# from the committed corpus (fuzz/corpus/<target>/, left unchanged); new inputs land in
# fuzz/target/new-corpus/<target>/ (docs/security.md says how to keep them). An input that
# breaks a property is kept in fuzz/artifacts/<target>/ and fails the recipe.
# Fuzz every target for `seconds` each (docs/security.md).
fuzz seconds="60":
    #!/usr/bin/env bash
    set -euo pipefail
    cd fuzz
    for target in request_framing chunked_body request_target config_text credential; do
        echo "== fuzz: $target for {{seconds}} s"
        mkdir -p "target/new-corpus/$target"
        log="target/fuzz-$target.log"
        if ! cargo +nightly fuzz run "$target" "target/new-corpus/$target" "corpus/$target" \
            -- -max_total_time={{seconds}} -print_final_stats=1 >"$log" 2>&1; then
            grep -E "panicked at|assertion|left:|right:|ERROR|SUMMARY|Test unit written" "$log" | cut -c1-400 | head -n 20
            echo "fuzz: $target broke a property; the input is in fuzz/artifacts/$target/" >&2
            exit 1
        fi
        grep -E "^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)" "$log" || true
    done

# Run the self-contained demo (a managed session with a quota handoff).
demo:
    cargo run --locked --quiet -- demo

# Benchmarks; each writes its figures into docs/performance.md.
bench: bench-route bench-proxy bench-idle

# `route explain --json` over 100 routes with recorded health, whole processes.
bench-route:
    cargo build --release --locked
    python3 scripts/bench_route_explain.py target/release/oauth-mux --runs 200 --markdown-out docs/performance.md
