# Stub of the rust-overlay input: rust-bin.fromRustupToolchainFile (what nix/outputs.nix
# uses; it records the file's channel, components and targets) and
# rust-bin.stable.latest.default with .override.
let
  drv = import ./drv.nix;
in
{
  overlays.default = _final: _prev: {
    rust-bin = {
      fromRustupToolchainFile =
        file:
        let
          toolchain = (builtins.fromTOML (builtins.readFile file)).toolchain;
        in
        drv "rust-${toolchain.channel}" {
          inherit (toolchain) channel;
          targets = toolchain.targets or [ ];
          components = toolchain.components or [ ];
          fromFile = toString file;
        };
      stable.latest.default = drv "rust-stable" { } // {
        override = args: drv "rust-stable-with-targets" args;
      };
    };
  };
}
