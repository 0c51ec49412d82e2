#!/usr/bin/env node
// oauth-mux npm launcher for release @@VERSION@@ (rendered by oauth-mux-packaging; do not edit).
// Finds the platform package npm installed as an optional dependency, checks its binary
// against the sha256 this package recorded (package.json "binaryHashes"), runs it, and passes
// the exit code and signals through.
"use strict";
const { spawn } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");

const VERSION = "@@VERSION@@";
const PLATFORMS = @@PLATFORMS@@;

function fail(message) {
  process.stderr.write(`oauth-mux: ${message}\n`);
  process.exit(1);
}

const key = `${process.platform} ${process.arch}`;
const platform = PLATFORMS[key];
let binary = process.env.OMUX_BINARY_PATH;
if (!binary) {
  if (!platform) {
    fail(
      `no prebuilt oauth-mux binary for this platform (${key}). ` +
        `Prebuilt for: ${Object.keys(PLATFORMS).join(", ")}. ` +
        `Other ways to install: @@INSTALL_URL@@ (install.sh) or build from source with cargo.`
    );
  }
  try {
    binary = path.join(path.dirname(require.resolve(`${platform.package}/package.json`)), "bin", platform.exe);
  } catch (_) {
    fail(
      `the platform package ${platform.package}@${VERSION} is not installed next to oauth-mux. ` +
        `npm skips optional dependencies with --omit=optional / --no-optional, and a lockfile made on ` +
        `another OS may lack it. Reinstall: npm install -g oauth-mux@${VERSION} --include=optional`
    );
  }
  // The registry's integrity hash covers the tarball; this covers the binary on disk, which
  // another tool (or a copied node_modules) may have replaced.
  const key = `${platform.package}/bin/${platform.exe}`;
  let expected;
  try {
    expected = require(path.join(__dirname, "..", "package.json")).binaryHashes[key];
  } catch (_) {}
  if (!expected) {
    fail(`oauth-mux's package.json records no sha256 for ${key} (binaryHashes); reinstall: npm install -g oauth-mux@${VERSION}`);
  }
  let actual;
  try {
    actual = crypto.createHash("sha256").update(fs.readFileSync(binary)).digest("hex");
  } catch (err) {
    fail(`cannot read ${binary} (from ${platform.package}): ${err.message}`);
  }
  if (actual !== expected) {
    fail(
      `${binary} (from ${platform.package}) does not match the sha256 recorded in oauth-mux's ` +
        `package.json (binaryHashes: ${expected}, file: ${actual}); refusing to run it. ` +
        `Reinstall: npm install -g oauth-mux@${VERSION}`
    );
  }
}

// Handlers first, so no signal can arrive between the spawn and their installation.
let child = null;
const forwarded = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
for (const signal of forwarded) {
  try {
    process.on(signal, () => {
      try {
        if (child) child.kill(signal);
      } catch (_) {}
    });
  } catch (_) {}
}
child = spawn(binary, process.argv.slice(2), {
  stdio: "inherit",
  env: Object.assign({}, process.env, { OMUX_INSTALL_SOURCE: "npm" }),
});
child.on("error", (err) => fail(`cannot run ${binary}: ${err.message}`));
child.on("exit", (code, signal) => {
  if (signal) {
    // Die the same way the binary did, so the caller sees the same status.
    for (const s of forwarded) process.removeAllListeners(s);
    try {
      process.kill(process.pid, signal);
    } catch (_) {}
    setTimeout(() => process.exit(128 + (os.constants.signals[signal] || 1)), 200);
    return;
  }
  process.exit(code === null ? 1 : code);
});
