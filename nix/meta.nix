# Name and version of the release, parsed from the root Cargo.toml (the one place the
# version lives). Pure: needs no nixpkgs.
{
  cargoToml ? ../Cargo.toml,
}:
let
  package = (builtins.fromTOML (builtins.readFile cargoToml)).package;
in
{
  pname = package.name;
  inherit (package) version;
  description = package.description;
  license = package.license;
  homepage = package.repository;
}
