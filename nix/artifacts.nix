# File names of a release tree, as the packaging tool (packaging/src: render.rs,
# nfpm.rs, npm.rs, targets.rs) writes them (SPEC §9). Pure: needs no nixpkgs.
# nix/tests/run.sh compares them with the names in a dist-manifest.json the tool wrote.
{ meta }:
let
  inherit (meta) pname version;
  linuxPackaged = t: t.deb_arch != null && t.rpm_arch != null && t.apk_arch != null;
in
rec {
  /**
    The archive of one target: oauth-mux-<triple>.tar.gz (.zip for Windows).
  */
  archiveName = t: "${pname}-${t.triple}.${t.archive}";

  /**
    The npm platform package of a target (`os`/`cpu` set): oauth-mux-<npm_os>-<npm_cpu>.
  */
  npmPackageName = t: "${pname}-${t.npm_os}-${t.npm_cpu}";
  npmPackageFile = t: "${npmPackageName t}-${version}.tgz";
  npmRootFile = "${pname}-${version}.tgz";

  /**
    .deb, .rpm and .apk of a Linux target (nfpm), or [ ] for targets without them.
  */
  linuxPackageFiles =
    t:
    if linuxPackaged t then
      [
        "${pname}_${version}_${t.deb_arch}.deb"
        "${pname}-${version}-1.${t.rpm_arch}.rpm"
        "${pname}_${version}-r1_${t.apk_arch}.apk"
      ]
    else
      [ ];

  formula = "${pname}.rb";
  installer = "install.sh";
  manifest = "dist-manifest.json";
  checksums = "SHA256SUMS";
  signature = "SHA256SUMS.minisig";
  handoff = "handoff/README.md";

  /**
    Every artifact listed in dist-manifest.json, sorted by name.
  */
  manifestArtifacts =
    targets:
    builtins.sort builtins.lessThan (
      map archiveName targets
      ++ map npmPackageFile targets
      ++ [ npmRootFile ]
      ++ builtins.concatMap linuxPackageFiles targets
      ++ [
        formula
        installer
      ]
    );
}
