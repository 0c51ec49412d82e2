# Name, version and description of the release, parsed from the root Cargo.toml: the name
# from [package], the shared facts from [workspace.package] (the one place the version
# lives). Pure: needs no nixpkgs.
{
  cargoToml ? ../Cargo.toml,
}:
let
  toml = builtins.fromTOML (builtins.readFile cargoToml);
  shared = toml.workspace.package;
in
{
  pname = toml.package.name;
  inherit (shared) version description license;
  homepage = shared.repository;
}
