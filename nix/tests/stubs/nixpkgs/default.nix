# Stub of `import nixpkgs { system; overlays; }` for nix/tests: only what nix/*.nix uses,
# with derivations replaced by nix/tests/stubs/drv.nix. Overlays are applied the way
# nixpkgs applies them (final/prev fixed point), so rust-overlay's stub can add rust-bin.
{
  system,
  overlays ? [ ],
  ...
}:
let
  drv = import ../drv.nix;
  lib = import ./lib.nix;
  isDarwin = builtins.match ".*-darwin" system != null;
  platform = {
    inherit system isDarwin;
    isLinux = !isDarwin;
    canExecute = other: other.system == system;
  };

  # Every nixpkgs attribute nix/devtools.nix and the derivations name. A name missing
  # here makes the evaluation fail, as a typo would against real nixpkgs.
  toolNames = [
    "just"
    "cargo-nextest"
    "cargo-zigbuild"
    "zig"
    "nfpm"
    "minisign"
    "nodejs"
    "ruby"
    "rpm"
    "dpkg"
    "dash"
    "curl"
    "wget"
    "unzip"
    "openssl"
    "binutils"
    "python3"
    "git"
    "nix"
    "actionlint"
    "shellcheck"
    "qemu"
    "chromium"
    "nginx"
    "installShellFiles"
    "nixfmt-tree"
    "coreutils"
    "gnutar"
    "gzip"
  ];

  base =
    final:
    lib.genAttrs toolNames (name: drv name { })
    // {
      inherit lib system;
      stdenv = {
        hostPlatform = platform;
        buildPlatform = platform;
        mkDerivation = args: drv "${args.pname}-${args.version}" args // (args.passthru or { });
      };
      callPackage =
        fn: overrides:
        let
          f = if builtins.isFunction fn then fn else import fn;
        in
        f (builtins.intersectAttrs (builtins.functionArgs f) final // overrides);
      runCommand =
        name: env: script:
        drv name (env // { inherit script; });
      fetchurl = args: drv "fetchurl-${baseNameOf args.url}" args;
    };

  extend =
    acc: overlay: final:
    let
      prev = acc final;
    in
    prev // overlay final prev;
  composed = builtins.foldl' extend base overlays;
  fix = f: let x = f x; in x;
in
fix composed
