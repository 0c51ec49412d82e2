# A stand-in derivation for the stub inputs: a named value that interpolates like a
# store path and keeps the arguments it was made from, so tests can read them.
name: args: {
  type = "derivation";
  inherit name;
  outPath = "/nix/store/0000000000000000000000000000stub-${name}";
  stubArgs = args;
}
