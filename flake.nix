{
  description = "oauth-mux: keeps AI coding harnesses working across several accounts per provider";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
    crane.url = "github:ipetkov/crane";
    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      crane,
      rust-overlay,
    }:
    let
      # Pure: targets from packaging/targets.json, name and version from Cargo.toml.
      omux = import ./nix/lib.nix { };

      # x86_64-linux, aarch64-linux, x86_64-darwin, aarch64-darwin: the Linux and macOS
      # entries of the target list.
      forAllSystems = f: omux.genAttrs omux.systems (system: f (perSystem system));

      perSystem =
        system:
        import ./nix/outputs.nix {
          pkgs = import nixpkgs {
            inherit system;
            overlays = [ rust-overlay.overlays.default ];
          };
          inherit crane omux;
          sourceDateEpoch = self.lastModified or 0;
        };
    in
    {
      # `nix build`, `nix build .#oauth-mux-<triple>`, `nix build .#release`.
      packages = forAllSystems (out: out.packages);

      # `nix run github:oauth-mux/oauth-mux -- doctor`
      apps = forAllSystems (out: out.apps);

      # `nix develop`: the toolchain and every tool the justfile and .ci/run use.
      devShells = forAllSystems (out: out.devShells);

      # `nix flake check`: tests, clippy, fmt, example configs, every package.
      checks = forAllSystems (out: out.checks);

      # `nix fmt`
      formatter = forAllSystems (out: out.formatter);

      # pkgs.oauth-mux, built with the rustc of the nixpkgs it is applied to.
      overlays.default = final: _prev: {
        oauth-mux = final.callPackage ./nix/package.nix {
          craneLib = crane.mkLib final;
          src = import ./nix/source.nix { inherit (final) lib; };
          inherit omux;
        };
      };
    };
}
