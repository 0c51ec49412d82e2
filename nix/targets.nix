# The release targets, read from the one list (packaging/targets.json) that the
# packaging tool and the installer templates read too. Pure: needs no nixpkgs, so
# `nix-instantiate --eval --strict nix/targets.nix` works on any machine.
{
  targetsFile ? ../packaging/targets.json,
}:
let
  data = builtins.fromJSON (builtins.readFile targetsFile);
in
data.targets
