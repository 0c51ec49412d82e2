# Stub of the crane input. Each builder returns a stub derivation that records the
# command crane would run, composed as crane composes it (lib/cargoClippy.nix,
# lib/cargoFmt.nix, lib/cargoNextest.nix, lib/buildDepsOnly.nix, lib/buildPackage.nix),
# without crane's own `--profile release`/`--cargo-profile` which both sides share.
let
  mkLib = pkgs: withToolchain pkgs (pkgs.rust-bin.stable.latest.default or null);
  withToolchain =
    pkgs: toolchain:
    let
      drv = name: args: import ./drv.nix name (args // { inherit toolchain; });
      craneLib = {
        inherit toolchain;
        overrideToolchain = f: withToolchain pkgs (f pkgs);
        buildDepsOnly =
          args:
          drv "${args.pname}-deps" (
            args
            // {
              command =
                args.buildPhaseCargoCommand
                  or "cargo build --release ${args.cargoExtraArgs or ""}";
            }
          );
        buildPackage =
          args:
          drv args.pname (
            args
            // {
              command =
                args.buildPhaseCargoCommand
                  or "${args.cargoBuildCommand or "cargo build --release"} ${args.cargoExtraArgs or ""}";
            }
          );
        cargoClippy =
          args:
          drv "${args.pname}-clippy" (
            args
            // {
              command = "cargo clippy ${args.cargoExtraArgs or ""} ${args.cargoClippyExtraArgs or "--all-targets"}";
            }
          );
        cargoFmt =
          args:
          drv "${args.pname}-fmt" (
            args
            // {
              command = "cargo fmt ${args.cargoExtraArgs or ""} -- --check ${args.rustFmtExtraArgs or ""}";
            }
          );
        cargoNextest =
          args:
          drv "${args.pname}-nextest" (
            args
            // {
              command = "cargo nextest run ${args.cargoExtraArgs or ""} ${args.cargoNextestExtraArgs or ""}";
            }
          );
        devShell = args: drv "oauth-mux-devshell" args;
      };
    in
    craneLib;
in
{
  inherit mkLib;
}
