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

  # One toolchain, pinned by flake.lock (rust-overlay's stable at the locked revision),
  # with the standard library of every release target.
  toolchain = pkgs.rust-bin.stable.latest.default.override {
    targets = map (t: t.triple) omux.targets;
  };
  craneLib = (crane.mkLib pkgs).overrideToolchain (_p: toolchain);

  src = import ./source.nix { inherit lib; };

  oauth-mux = pkgs.callPackage ./package.nix { inherit craneLib src omux; };

  perTarget = omux.genAttrs (map (t: t.triple) omux.targets) (
    triple:
    pkgs.callPackage ./cross.nix {
      inherit craneLib src omux;
      target = omux.byTriple.${triple};
    }
  );

  targetPackages = lib.mapAttrs' (
    triple: builds: lib.nameValuePair (omux.packageName omux.byTriple.${triple}) builds.preferred
  ) perTarget;

  release = pkgs.callPackage ./release.nix {
    inherit craneLib src omux sourceDateEpoch;
    binaries = lib.mapAttrs (_triple: builds: builds.zig) perTarget;
  };

  devTools = import ./devtools.nix { inherit pkgs; };
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
    # Building every target is part of `nix flake check`.
    inherit oauth-mux;
  }
  // targetPackages;

  formatter = pkgs.nixfmt-tree;
}
