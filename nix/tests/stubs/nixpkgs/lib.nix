# The few nixpkgs lib functions nix/*.nix use, with nixpkgs' semantics.
rec {
  genAttrs =
    names: f:
    builtins.listToAttrs (
      map (name: {
        inherit name;
        value = f name;
      }) names
    );
  nameValuePair = name: value: { inherit name value; };
  mapAttrs = builtins.mapAttrs;
  mapAttrs' = f: set: builtins.listToAttrs (map (n: f n set.${n}) (builtins.attrNames set));
  optionals = cond: list: if cond then list else [ ];
  optionalString = cond: s: if cond then s else "";
  optionalAttrs = cond: set: if cond then set else { };
  hasSuffix =
    suffix: s:
    let
      ls = builtins.stringLength s;
      lf = builtins.stringLength suffix;
    in
    lf <= ls && builtins.substring (ls - lf) lf s == suffix;
  concatMapStringsSep = sep: f: list: builtins.concatStringsSep sep (map f list);
  concatStringsSep = builtins.concatStringsSep;
  licenses.mit = {
    spdxId = "MIT";
  };
  platforms.unix = [ "unix" ];
  fileset = {
    # A store-path-like string, so that interpolating the source does not hash the
    # checkout (target/ included). The files it keeps are checked by nix/tests/run.sh.
    toSource =
      { root, fileset }:
      {
        outPath = "/nix/store/0000000000000000000000000000stub-source";
        stubFileset = map toString fileset;
      };
    unions = list: list;
    maybeMissing = path: path;
  };
}
