# oauth-mux built natively for the platform of the package set (packages.default, the
# overlay's pkgs.oauth-mux). Dependencies are cached in their own derivation
# (crane buildDepsOnly); tests run in checks.tests, not here.
{
  lib,
  stdenv,
  installShellFiles,
  craneLib,
  src,
  omux,
}:
let
  commonArgs = {
    inherit src;
    inherit (omux) pname version;
    strictDeps = true;
    cargoExtraArgs = "--locked -p oauth-mux --bin oauth-mux";
  };
  cargoArtifacts = craneLib.buildDepsOnly (commonArgs // { doCheck = false; });
in
craneLib.buildPackage (
  commonArgs
  // {
    inherit cargoArtifacts;
    doCheck = false;
    nativeBuildInputs = [ installShellFiles ];
    # Completions come from the binary itself (`oauth-mux completions SHELL`).
    postInstall = lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
      installShellCompletion --cmd oauth-mux \
        --bash <("$out/bin/oauth-mux" completions bash) \
        --fish <("$out/bin/oauth-mux" completions fish) \
        --zsh <("$out/bin/oauth-mux" completions zsh)
    '';
    meta = {
      inherit (omux.meta) description homepage;
      license = lib.licenses.mit;
      mainProgram = "oauth-mux";
      platforms = lib.platforms.unix;
    };
  }
)
