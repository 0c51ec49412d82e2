# The packaging tool (`oauth-mux-packaging`): renders the release tree (packages.release)
# and checks built binaries (checks.binary-<triple>: no build paths, intact macOS code
# signatures).
{
  craneLib,
  src,
  omux,
}:
let
  args = {
    inherit src;
    pname = "oauth-mux-packaging";
    inherit (omux) version;
    strictDeps = true;
    cargoExtraArgs = "--locked -p oauth-mux-packaging";
    doCheck = false;
  };
in
craneLib.buildPackage (args // { cargoArtifacts = craneLib.buildDepsOnly args; })
