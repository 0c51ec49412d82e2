# `nix flake check`: the same lint and test commands as the justfile's `check` and
# `test-rust` recipes (nix/tests/run.sh compares them), plus every example config
# validated by the built binary.
{
  pkgs,
  craneLib,
  src,
  omux,
  oauth-mux,
  devTools,
}:
let
  inherit (pkgs) lib;
  commonArgs = {
    inherit src;
    inherit (omux) pname version;
    strictDeps = true;
    cargoExtraArgs = "--locked --workspace";
  };
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;

  examplesDir = ../examples;
  exampleConfigs =
    if builtins.pathExists examplesDir then
      builtins.filter (name: lib.hasSuffix ".json" name) (
        builtins.attrNames (builtins.readDir examplesDir)
      )
    else
      [ ];
in
{
  # just check: cargo clippy --locked --workspace --all-targets -- -D warnings
  clippy = craneLib.cargoClippy (
    commonArgs
    // {
      inherit cargoArtifacts;
      cargoClippyExtraArgs = "--all-targets -- -D warnings";
    }
  );

  # just check: cargo fmt --all -- --check
  fmt = craneLib.cargoFmt {
    inherit src;
    inherit (omux) pname version;
    cargoExtraArgs = "--all";
  };

  # just test-rust: cargo nextest run --locked --workspace --no-fail-fast
  tests = craneLib.cargoNextest (
    commonArgs
    // {
      inherit cargoArtifacts;
      cargoNextestExtraArgs = "--no-fail-fast";
      # End-to-end tests drive real tools (nfpm, rpm, node, ruby…) on loopback only.
      nativeCheckInputs = devTools;
    }
  );

  # Every examples/*.json is a valid config (`oauth-mux config validate`, OMUX_CONFIG
  # names the file, SPEC §3). No examples at all is a failure, not a pass.
  examples =
    pkgs.runCommand "oauth-mux-examples-validate"
      {
        nativeBuildInputs = [ oauth-mux ];
        examples =
          if builtins.pathExists examplesDir then
            builtins.path {
              path = examplesDir;
              name = "oauth-mux-examples";
            }
          else
            "/var/empty";
      }
      ''
        export HOME="$TMPDIR/home" XDG_CONFIG_HOME="$TMPDIR/config" XDG_STATE_HOME="$TMPDIR/state"
        mkdir -p "$HOME"
        count=0
        for config in ${lib.concatMapStringsSep " " (name: "\"$examples/${name}\"") exampleConfigs}; do
          echo "validating $(basename "$config")"
          OMUX_CONFIG="$config" oauth-mux config validate
          count=$((count + 1))
        done
        if [ "$count" -eq 0 ]; then
          echo "no examples/*.json to validate" >&2
          exit 1
        fi
        echo "$count example configs valid" > "$out"
      '';
}
