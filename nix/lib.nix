# Pure helpers shared by flake.nix, the derivations in nix/ and the tests in nix/tests/.
# Nothing here touches nixpkgs: the target list comes from packaging/targets.json (the
# one list), the name and version from the root Cargo.toml. Evaluate it anywhere with
#   nix-instantiate --eval --strict -E 'import ./nix/lib.nix { }'
{
  src ? ../.,
}:
let
  meta = import ./meta.nix { cargoToml = src + "/Cargo.toml"; };
  targets = import ./targets.nix { targetsFile = src + "/packaging/targets.json"; };
  artifacts = import ./artifacts.nix { inherit meta; };

  # targets.json says "linux"/"macos"; Nix says "linux"/"darwin".
  nixKernel = {
    linux = "linux";
    macos = "darwin";
  };

  /**
    The Nix system a target is the native build of ("x86_64-linux"), or null for
    targets no Nix host runs (Windows).
  */
  systemOf = t: if nixKernel ? ${t.os} then "${t.arch}-${nixKernel.${t.os}}" else null;

  hostTargets = builtins.filter (t: systemOf t != null) targets;

  /**
    Like nixpkgs' lib.genAttrs, without nixpkgs: { name = f name; } for each name.
  */
  genAttrs =
    names: f:
    builtins.listToAttrs (
      map (name: {
        inherit name;
        value = f name;
      }) names
    );

  byTriple = genAttrs (map (t: t.triple) targets) (
    triple: builtins.head (builtins.filter (t: t.triple == triple) targets)
  );
in
{
  inherit
    meta
    targets
    genAttrs
    systemOf
    byTriple
    ;
  inherit (meta) pname version;

  /**
    The systems the flake has outputs for, derived from the target list: every
    Linux and macOS target is also a Nix host.
  */
  systems = map systemOf hostTargets;

  /**
    The release target a Nix system builds natively ("aarch64-darwin" -> "aarch64-apple-darwin").
  */
  nativeTargetOf =
    system:
    let
      matches = builtins.filter (t: systemOf t == system) targets;
    in
    if matches == [ ] then
      throw "oauth-mux: no release target in packaging/targets.json runs on ${system}"
    else
      builtins.head matches;

  isDarwin = t: t.os == "macos";
  isWindows = t: t.os == "windows";

  /**
    The flake attribute of a target's package: packages.<system>."oauth-mux-<triple>".
  */
  packageName = t: "${meta.pname}-${t.triple}";

  inherit artifacts;

  /**
    The environment every release build step shares with packaging/scripts/build-target.sh
    (zig stamps macOS 15 as the minimum without it).
  */
  macosDeploymentTarget = "11.0";
}
