# One release target's binary, built exactly as `just release-local` builds it: by
# packaging/scripts/build-target.sh (cargo-zigbuild, zig as the linker, macOS minimum
# 11.0, remapped path prefixes). The dependencies are cached with crane's buildDepsOnly,
# running the same script over crane's dummy source.
#
# On a macOS host the two Apple targets are built natively instead (cargo --target with
# the Apple toolchain from nixpkgs), as the release notes allow: zig's output carries
# only an ad-hoc signature, a native build links against the real SDK.
{
  lib,
  stdenv,
  craneLib,
  src,
  omux,
  # zig and cargo-zigbuild from the wheels packaging/tools.json pins (nix/tools.nix).
  tools,
  # One entry of packaging/targets.json.
  target,
}:
let
  inherit (target) triple exe;

  # Where build-target.sh drops the binary: BINS_DIR/<triple>/<exe>.
  binsDir = "$NIX_BUILD_TOP/release-bins";
  buildStep = "bash packaging/scripts/build-target.sh ${triple} \"${binsDir}\"";

  # Every build of a target unpacks into the same directory name, so the path prefixes
  # build-target.sh remaps (and with them cargo's fingerprints) are equal in the
  # dependency cache and in the final build; otherwise the cache would be rebuilt.
  sameSourceRoot = ''
    if [ "$sourceRoot" != oauth-mux-src ]; then
      mv -- "$sourceRoot" oauth-mux-src
      sourceRoot=oauth-mux-src
    fi
  '';

  # zig and cargo-zigbuild write caches under HOME / XDG_CACHE_HOME. build-target.sh
  # remaps every crate directory of crane's vendor dir (OMUX_VENDOR_DIR) to /deps, as it
  # remaps cargo's registry cache outside Nix, so no /nix/store path reaches the binary.
  writableCaches = ''
    export HOME="$NIX_BUILD_TOP/home" XDG_CACHE_HOME="$NIX_BUILD_TOP/cache"
    export ZIG_GLOBAL_CACHE_DIR="$NIX_BUILD_TOP/cache/zig" ZIG_LOCAL_CACHE_DIR="$NIX_BUILD_TOP/cache/zig-local"
    export OMUX_VENDOR_DIR="$cargoVendorDir"
    mkdir -p "$HOME" "$XDG_CACHE_HOME"
  '';

  zigArgs = {
    inherit src;
    pname = "${omux.pname}-${triple}";
    inherit (omux) version;
    strictDeps = true;
    nativeBuildInputs = [
      tools.cargo-zigbuild
      tools.zig
    ];
    # The toolchain env crane sets for nixpkgs cross package sets is not wanted:
    # cargo-zigbuild sets CC/AR/linker for the target itself.
    doIncludeCrossToolchainEnv = false;
    # crane would rewrite /nix/store paths inside the built binary, which breaks the ad-hoc
    # code signature of the Mach-O binaries; build-target.sh keeps them out instead, and
    # checks.binary-<triple> proves it (oauth-mux-packaging check-binary).
    doNotRemoveReferencesToVendorDir = true;
    postUnpack = sameSourceRoot;
    preBuild = writableCaches;
    buildPhaseCargoCommand = buildStep;
    doCheck = false;
  };

  zigDeps = craneLib.buildDepsOnly (
    zigArgs
    // {
      # crane's dummy source keeps only the Cargo manifests; the build step and the
      # target list it checks against are needed too.
      extraDummyScript = ''
        install -D -m 0644 ${src}/packaging/targets.json "$out/packaging/targets.json"
        install -D -m 0755 ${src}/packaging/scripts/build-target.sh "$out/packaging/scripts/build-target.sh"
      '';
    }
  );

  zigBuild = craneLib.buildPackage (
    zigArgs
    // {
      cargoArtifacts = zigDeps;
      # build-target.sh places the binary itself; crane's install from the cargo build log
      # (which the script does not write) is switched off.
      doNotPostBuildInstallCargoBinaries = true;
      installPhaseCommand = ''
        install -D -m 0755 "${binsDir}/${triple}/${exe}" "$out/bin/${exe}"
      '';
      doInstallCargoArtifacts = false;
      # Foreign binaries: already stripped by the release profile; no ELF patching.
      dontStrip = true;
      dontPatchELF = true;
      passthru = {
        inherit target;
        exePath = "bin/${exe}";
      };
      meta = {
        description = "${omux.meta.description} (${triple})";
        license = lib.licenses.mit;
      };
    }
  );

  nativeArgs = {
    inherit src;
    pname = "${omux.pname}-${triple}";
    inherit (omux) version;
    strictDeps = true;
    cargoExtraArgs = "--locked --target ${triple} -p oauth-mux --bin oauth-mux";
    CARGO_BUILD_TARGET = triple;
    MACOSX_DEPLOYMENT_TARGET = omux.macosDeploymentTarget;
    doCheck = false;
  };

  nativeDarwin = craneLib.buildPackage (
    nativeArgs
    // {
      cargoArtifacts = craneLib.buildDepsOnly nativeArgs;
      passthru = {
        inherit target;
        exePath = "bin/${exe}";
      };
      meta = {
        description = "${omux.meta.description} (${triple}, native macOS build)";
        license = lib.licenses.mit;
      };
    }
  );
in
{
  # What `just release-local` builds, on any host (packages.release uses these).
  zig = zigBuild;
  # packages.<system>."oauth-mux-<triple>": native for the Apple targets on macOS.
  preferred = if stdenv.hostPlatform.isDarwin && omux.isDarwin target then nativeDarwin else zigBuild;
}
