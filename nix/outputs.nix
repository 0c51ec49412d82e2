# Everything the flake exposes for one system, given that system's package set (with
# rust-overlay applied) and crane. flake.nix maps it over omux.systems.
{
  pkgs,
  crane,
  omux,
  # The commit time of the flake's source (self.lastModified): the release's mtimes.
  sourceDateEpoch,
}:
let
  inherit (pkgs) lib;

  # The one toolchain: rust-toolchain.toml (exact version, rustfmt, clippy, the standard
  # library of every release target), the file rustup reads outside Nix.
  toolchain = pkgs.rust-bin.fromRustupToolchainFile ../rust-toolchain.toml;
  craneLib = (crane.mkLib pkgs).overrideToolchain (_p: toolchain);

  # zig, cargo-zigbuild and nfpm at the versions .ci/deps installs (packaging/tools.json).
  tools = pkgs.callPackage ./tools.nix { };

  src = import ./source.nix { inherit lib; };

  oauth-mux = pkgs.callPackage ./package.nix { inherit craneLib src omux; };

  packagingTool = import ./packaging-tool.nix { inherit craneLib src omux; };

  perTarget = omux.genAttrs (map (t: t.triple) omux.targets) (
    triple:
    pkgs.callPackage ./cross.nix {
      inherit craneLib src omux tools;
      target = omux.byTriple.${triple};
    }
  );

  # checks.binary-<triple>: the zig-built binary holds no /nix/store (or other build) path
  # and, for macOS, its ad-hoc code signature still matches: what packages.release ships.
  binaryChecks = lib.mapAttrs' (
    triple: builds:
    lib.nameValuePair "binary-${triple}" (
      pkgs.runCommand "oauth-mux-binary-check-${triple}"
        {
          nativeBuildInputs = [ packagingTool ];
          binary = "${builds.zig}/bin/${omux.byTriple.${triple}.exe}";
        }
        ''
          oauth-mux-packaging check-binary "$binary" | tee "$out"
        ''
    )
  ) perTarget;

  targetPackages = lib.mapAttrs' (
    triple: builds: lib.nameValuePair (omux.packageName omux.byTriple.${triple}) builds.preferred
  ) perTarget;

  release = pkgs.callPackage ./release.nix {
    inherit
      packagingTool
      src
      omux
      sourceDateEpoch
      ;
    inherit (tools) nfpm;
    binaries = lib.mapAttrs (_triple: builds: builds.zig) perTarget;
  };

  devTools = import ./devtools.nix { inherit pkgs tools; };
in
{
  packages = {
    default = oauth-mux;
    inherit oauth-mux release;
    release-bins = release.releaseBins;
  }
  // targetPackages;

  apps.default = {
    type = "app";
    program = "${oauth-mux}/bin/oauth-mux";
    meta.description = omux.meta.description;
  };

  # craneLib carries the pinned toolchain (rust-toolchain.toml) into the shell.
  devShells.default = craneLib.devShell {
    packages = devTools;
    # zig stamps macOS 15 as the minimum without it (same as build-target.sh).
    MACOSX_DEPLOYMENT_TARGET = omux.macosDeploymentTarget;
  };

  checks = import ./checks.nix {
    inherit
      pkgs
      craneLib
      src
      omux
      oauth-mux
      devTools
      ;
  }
  // {
    # Building every target, and the whole release tree, is part of `nix flake check`.
    inherit oauth-mux release;
  }
  // targetPackages
  // binaryChecks;

  formatter = pkgs.nixfmt-tree;
}
