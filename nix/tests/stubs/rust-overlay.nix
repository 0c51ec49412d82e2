# Stub of the rust-overlay input: rust-bin.stable.latest.default with .override.
let
  drv = import ./drv.nix;
in
{
  overlays.default = _final: _prev: {
    rust-bin.stable.latest.default = drv "rust-stable" { } // {
      override = args: drv "rust-stable-with-targets" args;
    };
  };
}
